from django.urls import path

from apps.visitorlogin import views

app_name = "visitorlogin"

urlpatterns = [
    path("<str:nonce>/", views.begin, name="begin"),
]

widget_urlpatterns = (
    [path("start", views.widget_login_start, name="widget_login_start")],
    "visitorlogin_widget",
)
