from django.urls import path

from conversa.inbox import views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("list", views.conversation_list_fragment, name="conversation-list"),
    path("c/<int:conversation_id>/", views.conversation_page, name="conversation"),
    path("c/<int:conversation_id>/thread", views.thread_fragment, name="thread"),
    path("c/<int:conversation_id>/head", views.head_fragment, name="thread-head"),
    path("c/<int:conversation_id>/composer", views.composer_fragment, name="composer"),
    path("c/<int:conversation_id>/contact", views.contact_fragment, name="contact-panel"),
    path("c/<int:conversation_id>/reply", views.reply, name="reply"),
    path("c/<int:conversation_id>/template", views.send_template, name="send-template"),
    path("c/<int:conversation_id>/canned", views.canned_replies, name="canned-replies"),
    path("c/<int:conversation_id>/tags", views.tags, name="conversation-tags"),
    path("c/<int:conversation_id>/m/<int:message_id>/retry", views.retry, name="retry"),
    path(
        "c/<int:conversation_id>/do/<str:action>",
        views.act,
        name="conversation-action",
    ),
]
