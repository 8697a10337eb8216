from django.contrib import admin
from django.urls import include, path

from core.metrics import metrics
from helpdesk import views

# admin.site is helpdesk.admin_site.HelpdeskAdminSite (helpdesk.apps.AdminConfig).
urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("kb/", include("knowledge.urls")),
    path("", include("chat.urls")),
]

# An outage of Postgres or Redis shows the 503 "degraded" page, any other error the 500.
handler500 = "helpdesk.views.server_error"
