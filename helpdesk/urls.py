from django.contrib import admin
from django.urls import include, path

from chat import views as chat_views
from core.metrics import metrics
from helpdesk import views
from insights import admin_views as insights_admin
from tickets.selectors import ticket_for_customer
from widget import views as widget_views

# admin.site is helpdesk.admin_site.HelpdeskAdminSite (helpdesk.apps.AdminConfig).
urlpatterns = [
    # Admin pages of no one model, behind the admin's own login (admin_view).
    path(
        "admin/insights/dashboard/",
        admin.site.admin_view(insights_admin.dashboard_page),
        name="insights_dashboard",
    ),
    path(
        "admin/insights/dashboard.csv",
        admin.site.admin_view(insights_admin.dashboard_csv),
        name="insights_dashboard_csv",
    ),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("kb/", include("knowledge.urls")),
    # The one script tag a site embeds, and its site's settings (widget/views.py).
    path("widget.js", widget_views.loader, name="widget_loader"),
    path("widget/sites/<str:key>.json", widget_views.config, name="widget_config"),
    path("widget/frame/<str:key>/", chat_views.widget_frame, name="widget_frame"),
    # The support page's and the widget's strings for their scripts (gettext), in the
    # request's language.
    path("jsi18n/", views.javascript_catalog, name="javascript-catalog"),
    path("jsi18n/<str:lang>/", views.javascript_catalog_in, name="javascript-catalog-in"),
    # The support page shows its conversation's ticket; tickets sit above the chat, so the
    # wiring hands the page the lookup.
    path("", include("chat.urls"), {"ticket_for": ticket_for_customer}),
]

# An outage of Postgres or Redis shows the 503 "degraded" page, any other error the 500.
handler500 = "helpdesk.views.server_error"
