from django.urls import path

from conversa.inbox import compose_views, presence_views, settings_views, views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("list", views.conversation_list_fragment, name="conversation-list"),
    path("team", presence_views.team, name="team"),
    path("availability", presence_views.availability, name="availability"),
    path("unread", presence_views.unread, name="unread-count"),
    path("c/<int:conversation_id>/", views.conversation_page, name="conversation"),
    path("c/<int:conversation_id>/thread", views.thread_fragment, name="thread"),
    path("c/<int:conversation_id>/head", views.head_fragment, name="thread-head"),
    path("c/<int:conversation_id>/composer", views.composer_fragment, name="composer"),
    path("c/<int:conversation_id>/contact", views.contact_fragment, name="contact-panel"),
    path("c/<int:conversation_id>/reply", views.reply, name="reply"),
    path("c/<int:conversation_id>/compose", compose_views.compose, name="compose"),
    path("c/<int:conversation_id>/m/<int:message_id>/react", compose_views.react, name="react"),
    path("c/<int:conversation_id>/template", views.send_template, name="send-template"),
    path("c/<int:conversation_id>/canned", views.canned_picker, name="canned-replies"),
    path("c/<int:conversation_id>/tags", views.toggle_tag, name="conversation-tags"),
    path("c/<int:conversation_id>/m/<int:message_id>/retry", views.retry, name="retry"),
    path(
        "c/<int:conversation_id>/do/<str:action>",
        views.act,
        name="conversation-action",
    ),
    path("settings/queues", settings_views.queue_list, name="manage-queues"),
    path("settings/queues/new", settings_views.queue_form, name="manage-queue-new"),
    path("settings/queues/<int:queue_id>", settings_views.queue_form, name="manage-queue-edit"),
    path(
        "settings/queues/<int:queue_id>/delete",
        settings_views.delete_queue,
        name="manage-queue-delete",
    ),
    path("settings/tags", settings_views.tag_list, name="manage-tags"),
    path("settings/tags/<int:tag_id>/delete", settings_views.delete_tag, name="manage-tag-delete"),
    path("settings/hours", settings_views.business_hours, name="manage-hours"),
    path("settings/survey", settings_views.survey_settings, name="manage-survey"),
    path(
        "settings/read-receipts",
        compose_views.read_receipts_setting,
        name="manage-read-receipts",
    ),
    path("settings/canned", settings_views.canned_reply_list, name="manage-canned"),
    path("settings/canned/new", settings_views.canned_reply, name="manage-canned-new"),
    path("settings/canned/check", settings_views.check_canned_reply, name="manage-canned-check"),
    path("settings/canned/<int:reply_id>", settings_views.canned_reply, name="manage-canned-edit"),
    path(
        "settings/canned/<int:reply_id>/delete",
        settings_views.delete_canned_reply,
        name="manage-canned-delete",
    ),
]
