from django.urls import path

from conversa.crm import automation_views, pipeline_views, views

urlpatterns = [
    path("pipeline/", views.board, name="pipeline"),
    path("pipeline/board", views.board_fragment, name="pipeline-board"),
    path("pipeline/list", views.lead_list, name="lead-list"),
    path("pipeline/leads/new", views.new_lead, name="lead-new"),
    path("pipeline/leads/<int:lead_id>/", views.lead_page, name="lead"),
    path("pipeline/leads/<int:lead_id>/move", views.move, name="lead-move"),
    path("pipeline/leads/<int:lead_id>/edit", views.edit_lead, name="lead-edit"),
    path("pipeline/manage/", pipeline_views.pipelines, name="pipelines"),
    path(
        "pipeline/manage/<int:pipeline_id>/stages",
        pipeline_views.pipeline_add_stage,
        name="pipeline-add-stage",
    ),
    path(
        "pipeline/manage/<int:pipeline_id>/fields",
        pipeline_views.pipeline_fields,
        name="pipeline-fields",
    ),
    path("pipeline/manage/stages/<int:stage_id>", pipeline_views.stage_edit, name="stage-edit"),
    path(
        "pipeline/manage/stages/<int:stage_id>/move", pipeline_views.stage_move, name="stage-move"
    ),
    path(
        "pipeline/manage/stages/<int:stage_id>/delete",
        pipeline_views.stage_delete,
        name="stage-delete",
    ),
    path("automations/", automation_views.automation_list, name="automations"),
    path("automations/new", automation_views.automation_editor, name="automation-new"),
    path("automations/check", automation_views.automation_check, name="automation-check"),
    path("automations/dispatch", automation_views.dispatch, name="automations-dispatch"),
    path(
        "automations/dispatch/progress",
        automation_views.dispatch_progress,
        name="dispatch-progress",
    ),
    path(
        "automations/<int:automation_id>",
        automation_views.automation_editor,
        name="automation-edit",
    ),
    path(
        "automations/<int:automation_id>/active",
        automation_views.automation_active,
        name="automation-active",
    ),
    path(
        "automations/<int:automation_id>/delete",
        automation_views.automation_delete,
        name="automation-delete",
    ),
]
