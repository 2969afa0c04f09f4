from django.urls import path

from apps.messengers import views

app_name = "messengers"

urlpatterns = [
    path("telegram/<str:webhook_id>/", views.telegram_webhook, name="telegram_webhook"),
]

widget_urlpatterns = (
    [path("link", views.widget_telegram_link, name="widget_telegram_link")],
    "messengers_widget",
)

operator_urlpatterns = (
    [path("visitors/<int:visitor_id>", views.visitor_channels, name="visitor_channels")],
    "messengers_app",
)
