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
    path("automations/", views.automations, name="automations"),
]
