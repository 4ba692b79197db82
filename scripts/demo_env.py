"""Print the environment of the local demo (`make run`): its own random keys, written once to
var/demo.env and kept (they decrypt var/conversa.sqlite3's provider secrets), and the simulator
on. A demo on 127.0.0.1, not a deployment: README, Deployment, says what one sets."""

import secrets

from cryptography.fernet import Fernet

print("# The local demo's keys (make run). Keep this file with var/conversa.sqlite3.")
print(f"SECRET_KEY={secrets.token_urlsafe(50)}")
print(f"FIELD_ENCRYPTION_KEYS={Fernet.generate_key().decode()}")
print("SANDBOX_ENABLED=1")
print(f"SANDBOX_API_KEY={secrets.token_urlsafe(32)}")
