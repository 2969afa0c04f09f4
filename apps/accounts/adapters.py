from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # People join Parley by signing up a company (/signup/) or by invitation,
        # both of which create a membership; a bare account without a tenant is useless.
        return False


class MFAAdapter(DefaultMFAAdapter):
    pass
