from django.contrib import admin
from django.urls import include, path

from helpdesk.metrics import metrics

admin.site.site_header = "Helpdesk"
admin.site.site_title = "Helpdesk admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),
    path("kb/", include("knowledge.urls")),
    path("", include("chat.urls")),
]
