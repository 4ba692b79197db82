from django.apps import AppConfig


class InstancesConfig(AppConfig):
    name = "conversa.instances"
    label = "instances"
