from django.urls import include, path

urlpatterns = [path("sandbox/", include("conversa.sandbox.urls"))]
