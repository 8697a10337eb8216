from django.urls import path

from knowledge import views

app_name = "knowledge"
urlpatterns = [
    path("", views.article_index, name="index"),
    path("<slug:slug>/", views.article_detail, name="article"),
]
