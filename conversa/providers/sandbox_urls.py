from django.urls import path

from conversa.providers import sandbox_views as views

urlpatterns = [
    path("", views.customer_page, name="sandbox"),
    path("chat", views.customer_chat, name="sandbox-chat"),
    path("send", views.customer_send, name="sandbox-send"),
    path("scan", views.scan_qr, name="sandbox-scan"),
    path("evolution/instance/create", views.instance_create),
    path("evolution/instance/connect/<str:name>", views.instance_connect),
    path("evolution/instance/connectionState/<str:name>", views.connection_state),
    path("evolution/message/sendText/<str:name>", views.send_text),
    path("evolution/message/byReference/<str:name>", views.find_by_reference),
    path("evolution/faults/<str:name>", views.set_faults),
    path("graph/<str:version>/<str:phone_number_id>/messages", views.graph_send),
]
