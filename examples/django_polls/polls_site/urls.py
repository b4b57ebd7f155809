"""Root URLs: the admin, the polls app, and ``/`` sending visitors to the polls."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(url="/polls/", permanent=False)),
    path("admin/", admin.site.urls),
    path("polls/", include("polls.urls")),
]
