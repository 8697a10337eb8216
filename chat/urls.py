from django.urls import path

from chat import views

app_name = "chat"
urlpatterns = [
    path("", views.index, name="index"),
    path("widget/frame/<str:key>/", views.widget_frame, name="widget_frame"),
]
