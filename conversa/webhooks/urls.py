from django.urls import path

from conversa.webhooks import views

urlpatterns = [
    path("", views.webhooks_page, name="settings-webhooks"),
    path("<int:endpoint_id>/", views.endpoint_page, name="settings-webhook"),
    path("<int:endpoint_id>/edit", views.endpoint_edit, name="settings-webhook-edit"),
    path(
        "<int:endpoint_id>/actions/<str:action>",
        views.endpoint_action,
        name="settings-webhook-action",
    ),
    path(
        "deliveries/<int:delivery_id>/replay",
        views.delivery_replay,
        name="settings-webhook-replay",
    ),
]
