"""Admin shows people and teams only. Lifestyle data is never registered here (DESIGN.md §2):
no journal, insight, coaching or notification model has an admin page, not even read-only."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from apps.accounts.models import ApiToken, Invitation, Membership, Team, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
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


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "team"
    extra = 0
    raw_id_fields = ("user", "manager")


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "qualified_min_bant", "created_at")
    inlines = (MembershipInline,)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "team", "role", "expires_at", "accepted_at")
    exclude = ("token_hash",)
    readonly_fields = ("accepted_at", "accepted_by")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "last_used_at", "revoked_at")
    exclude = ("token_hash",)
    readonly_fields = ("user", "prefix", "last_used_at")
