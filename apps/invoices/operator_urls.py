from django.urls import path

from apps.invoices import operator_views

app_name = "invoices_app"

urlpatterns = [
    path("", operator_views.invoices, name="invoices"),
    path("options", operator_views.options, name="options"),
    path("<int:invoice_id>/send", operator_views.send, name="send"),
    path("<int:invoice_id>/cancel", operator_views.cancel, name="cancel"),
]
