from django.urls import path

from conversa.campaigns import import_views

urlpatterns = [
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
]
