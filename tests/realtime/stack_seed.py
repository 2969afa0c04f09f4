"""Run by the slow realtime tests in a subprocess on the stack's database: prints the seed as one JSON line.

A tenant with a widget key, and an operator logged in the way `django.contrib.auth.login`
leaves a session (the test passes the cookie to its websocket client).
"""

from __future__ import annotations

import json
import os
import sys
import uuid


def main() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    if "--migrate" in sys.argv:  # one Django start-up instead of two: migrate, then seed
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)

    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django_scopes import scopes_disabled

    from apps.accounts.models import Membership, Role, Tenant, User

    suffix = uuid.uuid4().hex[:8]
    with scopes_disabled():
        tenant = Tenant.objects.create(name=f"Stack {suffix}", slug=f"stack-{suffix}")
        user = User.objects.create_user(f"operator-{suffix}@stack.test", None, name="Olga")
        membership = Membership.objects.create(tenant=tenant, user=user, role=Role.OPERATOR)
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    print(
        json.dumps(
            {
                "tenant": tenant.pk,
                "widget_key": tenant.widget_key,
                "operator": membership.pk,
                "cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
            }
        )
    )


if __name__ == "__main__":
    main()
