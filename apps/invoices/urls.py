from django.urls import path

from apps.invoices import views

app_name = "invoices"

urlpatterns = [
    path("i/<str:token>/", views.invoice_page, name="page"),
    path("i/<str:token>/pdf/", views.invoice_pdf, name="pdf"),
    path("i/<str:token>/pay/", views.invoice_pay, name="pay"),
    path("webhooks/<str:provider>/<str:webhook_token>/", views.provider_webhook, name="webhook"),
]
