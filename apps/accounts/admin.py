"""Admin shows people and teams only. Lifestyle data is never registered here (DESIGN.md §2):
no journal, insight, coaching or notification model has an admin page, not even read-only."""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.models import ApiToken, Invitation, Membership, Team, User


class _LowercaseEmail:
    """Sign-in looks addresses up lowercased; checked here, before the uniqueness check, so a
    case variant of an existing address is a form error, not a second account (or a 500)."""

    cleaned_data: dict[str, Any]

    def clean_email(self) -> str:
        return str(self.cleaned_data["email"]).strip().lower()


class UserAddForm(_LowercaseEmail, AdminUserCreationForm):
    pass


class UserEditForm(_LowercaseEmail, UserChangeForm):
    pass


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    add_form = UserAddForm
    form = UserEditForm
    ordering = ("email",)
    list_display = ("email", "display_name", "is_active", "is_staff", "date_joined")
    search_fields = ("email", "display_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name", "timezone", "locale", "day_boundary_hour")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    filter_horizontal = ()
    list_filter = ("is_active", "is_staff")

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, ...]:
        # Django would list every row the deletion removes, by its text and with a count per
        # model: the dates a rep logged drinks or slept badly. Only the accounts are named.
        _rows, _counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        accounts = [str(user) for user in objs]
        return accounts, {User._meta.verbose_name_plural: len(accounts)}, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        # The erasure the rep's own account deletion runs: every app's rows and the files
        # outside the database (export archives), which a plain cascade would leave behind.
        from apps.privacy.services import user_erase

        user_erase(user=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        from apps.privacy.services import user_erase

        for user in queryset:
            user_erase(user=user)


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "team"
    extra = 0
    raw_id_fields = ("user", "manager")


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "qualified_min_bant", "created_at")
    inlines = (MembershipInline,)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # A new BANT minimum, or members added or removed, changes which meetings qualify.
        members_changed = any(formset.has_changed() for formset in formsets)
        if "qualified_min_bant" in form.changed_data or members_changed:
            from apps.performance.services import meetings_requalify_later

            user_ids = {m.user_id for m in Membership.objects.filter(team=form.instance)}
            for formset in formsets:
                user_ids |= {obj.user_id for obj in formset.deleted_objects}
            meetings_requalify_later(user_ids=sorted(user_ids))


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "team", "role", "expires_at", "accepted_at")
    exclude = ("token_hash",)
    readonly_fields = ("accepted_at", "accepted_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # An invitation is a secret link sent by e-mail (accounts.services.invitation_create);
        # a row made here would have no token, and a second one would collide.
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "last_used_at", "revoked_at")
    exclude = ("token_hash",)
    readonly_fields = ("user", "prefix", "last_used_at")
