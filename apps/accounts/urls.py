from django.urls import path

from apps.accounts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("get-started/", views.get_started, name="get_started"),
    path("team/invite/", views.team_invite, name="team_invite"),
    path("tenant/switch/", views.tenant_switch, name="tenant_switch"),
    path("invite/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
