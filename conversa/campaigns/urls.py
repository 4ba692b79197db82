from django.urls import path

from conversa.campaigns import (
    campaign_export_views,
    campaign_views,
    contact_views,
    import_views,
    segment_views,
)

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
    path("contacts/segments/", segment_views.segment_list, name="segments"),
    path("contacts/segments/new", segment_views.segment_new, name="segment-new"),
    path("contacts/segments/count", segment_views.segment_count, name="segment-count"),
    path("contacts/segments/<int:segment_id>/", segment_views.segment_page, name="segment"),
    path(
        "contacts/segments/<int:segment_id>/delete",
        segment_views.segment_delete,
        name="segment-delete",
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
    path("campaigns/", campaign_views.campaign_list, name="campaigns"),
    path("campaigns/new", campaign_views.campaign_new, name="campaign-new"),
    path("campaigns/<int:campaign_id>/", campaign_views.campaign_page, name="campaign"),
    path("campaigns/<int:campaign_id>/edit", campaign_views.campaign_edit, name="campaign-edit"),
    path("campaigns/<int:campaign_id>/live", campaign_views.campaign_live, name="campaign-live"),
    # One address per action (not "<str:action>", which would also take export.csv).
    *(
        path(
            f"campaigns/<int:campaign_id>/{action}",
            campaign_views.campaign_action,
            {"action": action},
            name=f"campaign-{action}",
        )
        for action in campaign_views.ACTION_NAMES
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
