from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Helpdesk"
admin.site.site_title = "Helpdesk admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("kb/", include("knowledge.urls")),
    path("", include("chat.urls")),
]
