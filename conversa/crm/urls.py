from django.urls import path

from conversa.crm import views

urlpatterns = [
    path("pipeline/", views.board, name="pipeline"),
    path("pipeline/board", views.board_fragment, name="pipeline-board"),
    path("pipeline/list", views.lead_list, name="lead-list"),
    path("pipeline/leads/new", views.new_lead, name="lead-new"),
    path("pipeline/leads/<int:lead_id>/", views.lead_page, name="lead"),
    path("pipeline/leads/<int:lead_id>/move", views.move, name="lead-move"),
    path("pipeline/leads/<int:lead_id>/edit", views.edit_lead, name="lead-edit"),
    path("pipeline/manage/", views.pipelines, name="pipelines"),
    path(
        "pipeline/manage/<int:pipeline_id>/stages",
        views.pipeline_add_stage,
        name="pipeline-add-stage",
    ),
    path("pipeline/manage/<int:pipeline_id>/fields", views.pipeline_fields, name="pipeline-fields"),
    path("pipeline/manage/stages/<int:stage_id>", views.stage_edit, name="stage-edit"),
    path("pipeline/manage/stages/<int:stage_id>/move", views.stage_move, name="stage-move"),
    path("pipeline/manage/stages/<int:stage_id>/delete", views.stage_delete, name="stage-delete"),
    path("automations/", views.automations, name="automations"),
    path("automations/new", views.automation_editor, name="automation-new"),
    path("automations/check", views.automation_check, name="automation-check"),
    path("automations/dispatch", views.dispatch, name="automations-dispatch"),
    path("automations/dispatch/progress", views.dispatch_progress, name="dispatch-progress"),
    path("automations/<int:automation_id>", views.automation_editor, name="automation-edit"),
    path(
        "automations/<int:automation_id>/active",
        views.automation_active,
        name="automation-active",
    ),
    path(
        "automations/<int:automation_id>/delete",
        views.automation_delete,
        name="automation-delete",
    ),
]
