"""Installs Parley's admin site as `django.contrib.admin.site`.

Listed in INSTALLED_APPS in place of "django.contrib.admin". Kept apart from
apps/core/admin.py because INSTALLED_APPS entries are imported before models load.
"""

from django.contrib.admin.apps import AdminConfig


class ParleyAdminConfig(AdminConfig):
    default_site = "apps.core.admin.ParleyAdminSite"
