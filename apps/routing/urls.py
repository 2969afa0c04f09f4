from django.urls import path

from . import views

app_name = "routing"

urlpatterns = [
    path("widget/api/queue/state", views.queue_state, name="queue_state"),
    path("widget/api/queue/email", views.queue_email, name="queue_email"),
    path("app/api/routing/state", views.operator_state, name="operator_state"),
]
