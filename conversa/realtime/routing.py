from django.urls import path

from conversa.realtime.consumers import EventsConsumer, members_only

websocket_urlpatterns = [path("ws/events/", members_only(EventsConsumer.as_asgi()))]
