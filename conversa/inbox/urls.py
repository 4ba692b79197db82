from django.urls import path

from conversa.inbox import views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("list", views.conversation_list_fragment, name="conversation-list"),
    path("c/<int:conversation_id>/", views.conversation_page, name="conversation"),
    path("c/<int:conversation_id>/thread", views.thread_fragment, name="thread"),
    path("c/<int:conversation_id>/reply", views.reply, name="reply"),
]
