from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from apps.messengers import urls as messenger_urls
from apps.visitorlogin import urls as visitorlogin_urls

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("apps.routing.urls")),  # widget/api/queue/..., app/api/routing/...
    path("widget/api/", include("apps.widget.api_urls")),
    path("widget/", include("apps.widget.urls")),
    path("app/api/", include("apps.conversations.operator_urls")),
    path("app/api/canned/", include("apps.canned.urls")),
    path("app/", include("apps.dashboard.urls")),
    path("invoices/", include("apps.invoices.urls")),
    path("app/api/invoices/", include("apps.invoices.operator_urls")),
    path("email/", include("apps.emailbridge.urls")),
    path("messengers/", include("apps.messengers.urls")),
    path("widget/api/telegram/", include(messenger_urls.widget_urlpatterns)),
    path("app/api/messengers/", include(messenger_urls.operator_urlpatterns)),
    path("visitor-login/", include("apps.visitorlogin.urls")),
    path("widget/api/social/", include(visitorlogin_urls.widget_urlpatterns)),
    path("", include("apps.accounts.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
