from django.urls import path

from conversa.campaigns import contact_views as views

urlpatterns = [
    path("contacts/", views.contact_list, name="contacts"),
    path("contacts/<int:contact_id>/", views.contact_page, name="contact"),
    path("contacts/<int:contact_id>/edit", views.contact_edit, name="contact-edit"),
    path("contacts/<int:contact_id>/tags", views.contact_tags, name="contact-tags"),
    path("contacts/<int:contact_id>/consent", views.contact_consent, name="contact-consent"),
    path("contacts/<int:contact_id>/start", views.contact_start, name="contact-start"),
    path("contacts/<int:contact_id>/merge", views.contact_merge, name="contact-merge"),
    path(
        "contacts/<int:contact_id>/actions/<str:action>",
        views.contact_action,
        name="contact-action",
    ),
]
