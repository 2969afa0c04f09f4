"""`manage.py seed_demo`: a demo company with an owner, two operators and a department.

Idempotent: a second run finds every row and changes nothing, and prints the same
URLs and logins, so `make run` can call it on every start.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts import services
from apps.accounts.models import Department, Membership, Role, Tenant, User
from apps.core.tenancy import tenant_scope

DEMO_SLUG = "demo"
DEMO_COMPANY = "Demo Company"
DEMO_PASSWORD = "parley-demo-2026"  # noqa: S105 - a published demo login, not a secret
DEMO_OWNER = ("owner@demo.parley.test", "Olivia Owner")
DEMO_OPERATORS = [("alice@demo.parley.test", "Alice"), ("bob@demo.parley.test", "Bob")]
DEMO_DEPARTMENT = "Support"


class Command(BaseCommand):
    help = "Create the demo company and its logins (safe to run again)."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            tenant = self._tenant()
            operators = [self._member(tenant, email, name, Role.OPERATOR) for email, name in DEMO_OPERATORS]
            with tenant_scope(tenant):
                department, _ = Department.objects.get_or_create(tenant=tenant, name=DEMO_DEPARTMENT)
                missing = [m for m in operators if not department.members.filter(pk=m.pk).exists()]
                if missing:
                    department.members.add(*missing)
        self._print_summary()

    def _tenant(self) -> Tenant:
        tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
        if tenant is None:
            owner_email, owner_name = DEMO_OWNER
            if User.objects.filter(email=owner_email).exists():
                tenant = Tenant.objects.create(name=DEMO_COMPANY, slug=DEMO_SLUG)
            else:
                return services.tenant_signup(
                    company_name=DEMO_COMPANY,
                    slug=DEMO_SLUG,
                    email=owner_email,
                    password=DEMO_PASSWORD,
                    name=owner_name,
                ).tenant
        self._member(tenant, *DEMO_OWNER, Role.OWNER)
        return tenant

    def _member(self, tenant: Tenant, email: str, name: str, role: str) -> Membership:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = services.user_create(email=email, password=DEMO_PASSWORD, name=name)
        elif not user.check_password(DEMO_PASSWORD):
            # Someone changed a demo password: put back the one this command prints.
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        with tenant_scope(tenant):
            membership = Membership.objects.filter(user=user).first()
        if membership is not None and membership.is_active and membership.role == role:
            return membership
        return services.membership_create(tenant=tenant, user=user, role=role)

    def _print_summary(self) -> None:
        base = settings.PARLEY_BASE_URL
        lines = [
            "",
            f"Parley demo ({DEMO_COMPANY}) is ready.",
            "",
            f"  Sign up a company : {base}/signup/",
            f"  Log in            : {base}/accounts/login/",
            f"  Get started       : {base}/get-started/",
            f"  Operator dashboard: {base}/app/",
            f"  Admin             : {base}/admin/",
            "",
            f"  Logins (password {DEMO_PASSWORD}):",
            f"    owner     {DEMO_OWNER[0]}",
            *(f"    operator  {email}" for email, _ in DEMO_OPERATORS),
            "",
        ]
        self.stdout.write("\n".join(lines))
