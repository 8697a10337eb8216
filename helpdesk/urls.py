from django.contrib import admin
from django.urls import include, path

from core.metrics import metrics
from helpdesk import views
from tickets.selectors import ticket_for_customer

# admin.site is helpdesk.admin_site.HelpdeskAdminSite (helpdesk.apps.AdminConfig).
urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("kb/", include("knowledge.urls")),
    # The support page shows its conversation's ticket; tickets sit above the chat, so the
    # wiring hands the page the lookup.
    path("", include("chat.urls"), {"ticket_for": ticket_for_customer}),
]

# An outage of Postgres or Redis shows the 503 "degraded" page, any other error the 500.
handler500 = "helpdesk.views.server_error"
