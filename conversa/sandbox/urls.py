from django.urls import path

from conversa.sandbox import customer, evolution_views, graph_views, model_api, request_bin, views

urlpatterns = [
    path("", customer.customer_page, name="sandbox"),
    path("chat", customer.customer_chat, name="sandbox-chat"),
    path("send", customer.customer_send, name="sandbox-send"),
    path("media/<str:message_id>", customer.customer_media, name="sandbox-media"),
    path("scan", customer.scan_qr, name="sandbox-scan"),
    path("refuse", customer.refuse_qr, name="sandbox-refuse"),
    path("drop", customer.drop_connection, name="sandbox-drop"),
    path("ban", customer.ban, name="sandbox-ban"),
    path("logout-phone", customer.logout_from_phone, name="sandbox-logout-phone"),
    # The request bin: Conversa's outbound webhooks, received and verified (request_bin.py).
    path("hooks/", request_bin.bin_page, name="sandbox-hooks"),
    path("hooks/secret", request_bin.bin_secret, name="sandbox-hooks-secret"),
    path("hooks/in/<str:key>", request_bin.receive, name="sandbox-hooks-in"),
    *evolution_views.urlpatterns,
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
    # The assistant's model, as OpenAI's Chat Completions API (model_api.py).
    path("v1/chat/completions", model_api.chat_completions, name="sandbox-model"),
    path("v1/models", model_api.models),
    path("v1/faults", model_api.faults),
    *evolution_views.not_found_patterns,
]
