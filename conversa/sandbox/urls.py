from django.urls import path

from conversa.sandbox import graph_views, views

urlpatterns = [
    path("", views.customer_page, name="sandbox"),
    path("chat", views.customer_chat, name="sandbox-chat"),
    path("send", views.customer_send, name="sandbox-send"),
    path("scan", views.scan_qr, name="sandbox-scan"),
    path("refuse", views.refuse_qr, name="sandbox-refuse"),
    path("drop", views.drop_connection, name="sandbox-drop"),
    path("evolution/instance/create", views.instance_create),
    path("evolution/instance/fetchInstances", views.fetch_instances),
    path("evolution/instance/connect/<str:name>", views.instance_connect),
    path("evolution/instance/connectionState/<str:name>", views.connection_state),
    path("evolution/instance/restart/<str:name>", views.instance_restart),
    path("evolution/instance/logout/<str:name>", views.instance_logout),
    path("evolution/instance/delete/<str:name>", views.instance_delete),
    path("evolution/webhook/set/<str:name>", views.webhook_set),
    path("evolution/webhook/find/<str:name>", views.webhook_find),
    path("evolution/message/sendText/<str:name>", views.send_text),
    path("evolution/message/byReference/<str:name>", views.find_by_reference),
    path("evolution/faults/<str:name>", views.set_faults),
    path("evolution/scan/<str:name>", views.scan_route),
    path("evolution/drop/<str:name>", views.drop_route),
    path("evolution/refuse/<str:name>", views.refuse_route),
    path("graph/attachments/", graph_views.attachment, name="sandbox-graph-attachments"),
    path("graph/<str:version>/<str:phone_number_id>/messages", graph_views.send),
    path(
        "graph/<str:version>/<str:phone_number_id>/marketing_messages",
        graph_views.send,
        {"marketing": True},
    ),
    path("graph/<str:version>/<str:phone_number_id>/media", graph_views.upload),
    path("graph/<str:version>/<str:object_id>", graph_views.graph_object),
]
