from django.apps import AppConfig


class NumbersConfig(AppConfig):
    name = "conversa.numbers"
    # The app label stays "instances": migrations, table names and other apps' migration
    # dependencies name it.
    label = "instances"
