from django.urls import path

from conversa.campaigns import campaign_export_views, contact_views, import_views

urlpatterns = [
    path("contacts/", contact_views.contact_list, name="contacts"),
    path("contacts/<int:contact_id>/", contact_views.contact_page, name="contact"),
    path("contacts/<int:contact_id>/edit", contact_views.contact_edit, name="contact-edit"),
    path("contacts/<int:contact_id>/tags", contact_views.contact_tags, name="contact-tags"),
    path(
        "contacts/<int:contact_id>/consent", contact_views.contact_consent, name="contact-consent"
    ),
    path("contacts/<int:contact_id>/start", contact_views.contact_start, name="contact-start"),
    path("contacts/<int:contact_id>/merge", contact_views.contact_merge, name="contact-merge"),
    path(
        "contacts/<int:contact_id>/actions/<str:action>",
        contact_views.contact_action,
        name="contact-action",
    ),
    path("contacts/import/", import_views.import_list, name="contact-imports"),
    path("contacts/import/upload", import_views.upload, name="contact-import-upload"),
    path("contacts/import/<int:import_id>/", import_views.import_page, name="contact-import"),
    path(
        "contacts/import/<int:import_id>/mapping",
        import_views.save_mapping,
        name="contact-import-mapping",
    ),
    path(
        "contacts/import/<int:import_id>/progress",
        import_views.progress,
        name="contact-import-progress",
    ),
    path(
        "contacts/import/<int:import_id>/refused.csv",
        import_views.error_report,
        name="contact-import-errors",
    ),
    path(
        "campaigns/<int:campaign_id>/export.csv",
        campaign_export_views.export_csv,
        name="campaign-export-csv",
    ),
    path(
        "campaigns/<int:campaign_id>/export.xlsx",
        campaign_export_views.export_xlsx,
        name="campaign-export-xlsx",
    ),
]
