from django.contrib import admin
from django.shortcuts import redirect
from django.urls import path

from core.admin import ReadOnlyAdmin
from insights import admin_gaps  # noqa: F401 (registers ContentGapAdmin)
from insights.models import Outcome


@admin.register(Outcome)
class OutcomeAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Insights in the admin is its dashboard (insights/admin_views.py, at
    /admin/insights/dashboard/): outcomes are a rollup, read only as sums, so there is no
    list of them and no form. Registered so the admin index shows the app, and only to
    staff with insights.view_insights, not Django's per-model view permission."""

    def get_urls(self):
        # Only the index's link to the app, which leads to the dashboard.
        view = self.admin_site.admin_view(self.changelist_view)
        return [path("", view, name="insights_outcome_changelist")]

    def changelist_view(self, request, extra_context=None):
        return redirect("insights_dashboard")

    def has_module_permission(self, request) -> bool:
        return request.user.has_perm("insights.view_insights")

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("insights.view_insights")
