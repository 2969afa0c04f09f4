"""Admin → Messengers: connect the tenant's Telegram bot by pasting its token; see its state and chats.

The token is checked with getMe and stored encrypted; the admin shows only its last four
characters. Saving sets the webhook (with a fresh secret). A revoked token or a refused
webhook shows on the bot's row and page; a person who blocked the bot shows on their chat.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from apps.conversations.errors import BadInput
from apps.core.admin import TenantModelAdmin, is_platform_admin
from apps.invoices import keys
from apps.messengers import services
from apps.messengers.models import TelegramBot, TelegramChat
from apps.messengers.services.bots import webhook_url


class TelegramBotForm(forms.ModelForm):
    token = forms.CharField(
        label=_("Bot token"),
        required=False,
        strip=True,
        max_length=100,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("From @BotFather (/newbot or /token), like 123456789:AAE…. Leave empty to keep the stored one."),
    )

    class Meta:
        model = TelegramBot
        fields = ()

    def clean(self):
        cleaned = super().clean()
        token = cleaned.get("token") or ""
        if not token and not (self.instance.pk and self.instance.token_encrypted):
            self.add_error("token", _("Paste the token @BotFather gave you."))
        return cleaned


@admin.register(TelegramBot)
class TelegramBotAdmin(TenantModelAdmin):
    form = TelegramBotForm
    list_display = ("__str__", "status_display", "token_hint", "checked_at")
    readonly_fields = ("bot_display", "status_display", "token_hint", "webhook_display", "checked_at")
    fieldsets = (
        (None, {"fields": ("token", "token_hint")}),
        (_("State"), {"fields": ("bot_display", "status_display", "webhook_display", "checked_at")}),
    )
    actions = ["check_now"]

    @admin.display(description=_("stored token"))
    def token_hint(self, obj: TelegramBot | None) -> str:
        value = keys.decrypt(obj.token_encrypted) if obj is not None and obj.pk else ""
        return f"…{value[-4:]}" if len(value) > 8 else "—"

    @admin.display(description=_("bot"))
    def bot_display(self, obj: TelegramBot | None):
        if obj is None or not obj.pk:
            return _("Saving checks the token with Telegram and connects the bot.")
        return format_html(
            '<a href="https://t.me/{0}" rel="noopener" target="_blank">@{0}</a> ({1})', obj.username, obj.first_name
        )

    @admin.display(description=_("status"))
    def status_display(self, obj: TelegramBot | None):
        if obj is None or not obj.pk:
            return "—"
        if obj.is_active:
            return format_html('<span class="parley-ok">{}</span>', obj.get_status_display())
        return format_html(
            '<strong class="parley-problem">{}</strong><br><span class="help">{}</span>',
            obj.get_status_display(),
            obj.last_error or "",
        )

    @admin.display(description=_("webhook"))
    def webhook_display(self, obj: TelegramBot | None):
        if obj is None or not obj.pk:
            return "—"
        return format_html("<code>{}</code>", webhook_url(obj))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        admin_self = self

        class ConnectingForm(form_class):
            def _post_clean(self):
                super()._post_clean()
                token = self.cleaned_data.get("token")
                if not token or self.errors:
                    return
                # The service checks the token with Telegram and stores the bot (the one writer):
                # a refused token is a form error and nothing changes.
                tenant = self.instance.tenant if self.instance.pk else admin_self.tenant_for_new_row(request, self)
                if tenant is None:
                    self.add_error(None, _("Choose the company first."))
                    return
                try:
                    bot = services.telegram_bot_connect(tenant=tenant, token=token)
                except BadInput as exc:
                    self.add_error("token", ValidationError(exc.message))
                    return
                self.instance.pk, self.instance.tenant_id = bot.pk, bot.tenant_id

        return ConnectingForm

    def save_model(self, request, obj, form, change):
        # Written by telegram_bot_connect while the form was checked; only its state is reported here.
        if obj.pk is None:
            return
        obj.refresh_from_db()
        if not obj.is_active:
            self.message_user(
                request, _("The bot is saved, but: %(error)s") % {"error": obj.last_error}, messages.WARNING
            )

    @admin.action(description=_("Check the bot with Telegram now"))
    def check_now(self, request, queryset):
        for bot in queryset:
            bot = services.telegram_bot_check(tenant=bot.tenant)
            level = messages.SUCCESS if bot.is_active else messages.WARNING
            self.message_user(request, f"@{bot.username}: {bot.get_status_display()} {bot.last_error}".strip(), level)

    def delete_model(self, request, obj):
        services.telegram_bot_disconnect(tenant=obj.tenant)

    def delete_queryset(self, request, queryset):
        for bot in queryset:
            services.telegram_bot_disconnect(tenant=bot.tenant)

    def has_add_permission(self, request, *args) -> bool:
        if not super().has_add_permission(request, *args):
            return False
        if is_platform_admin(request):
            return True
        tenant = getattr(request, "tenant", None)
        return tenant is not None and not TelegramBot.objects.filter(tenant=tenant).exists()


@admin.register(TelegramChat)
class TelegramChatAdmin(TenantModelAdmin):
    list_display = ("__str__", "name", "visitor", "blocked_display", "created_at")
    list_select_related = ("visitor", "bot")
    list_filter = ("blocked_at",)
    search_fields = ("username", "name")
    readonly_fields = ("bot", "chat_id", "visitor", "username", "name", "blocked_at", "created_at")
    fields = readonly_fields

    @admin.display(description=_("blocked the bot"), boolean=False)
    def blocked_display(self, obj: TelegramChat):
        if obj.blocked_at is None:
            return "—"
        return format_html('<strong class="parley-problem">{}</strong>', _("Blocked the bot"))

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
