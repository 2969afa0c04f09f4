from django.urls import path

from apps.widget import views

app_name = "widget"

urlpatterns = [
    path("loader.js", views.loader_js, name="loader"),
    path("config/<str:key>.json", views.config_json, name="config"),
    path("frame/<str:key>/", views.frame, name="frame"),
    path("preview/<str:key>/", views.preview, name="preview"),
    path("logo/<str:key>", views.logo, name="logo"),
]
