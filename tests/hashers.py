"""Argon2 as a deployment hashes passwords, at its smallest cost.

Deployed, each hash takes 100 MiB and a good part of a second on purpose; the suite makes a
member (an owner per organization) in most tests, and that one hash was a fifth of their time.
The stored form is the same `argon2$...` a deployment writes and reads (the cost travels with
each hash), so the processes the tests start verify these passwords with the real settings."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class CheapArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 8
    parallelism = 1
