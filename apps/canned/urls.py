from django.urls import path

from . import views

app_name = "canned"

urlpatterns = [
    path("", views.replies, name="replies"),
    path("browse", views.browse, name="browse"),
    path("hotkeys", views.hotkeys, name="hotkeys"),
    path("<int:reply_id>", views.reply, name="reply"),
    path("<int:reply_id>/fill", views.fill, name="fill"),
]
