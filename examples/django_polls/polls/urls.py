"""The polls app's URLs (namespaced: ``{% url 'polls:detail' question.id %}``)."""

from django.urls import path

from . import views

app_name = "polls"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("<int:pk>/", views.DetailView.as_view(), name="detail"),
    path("<int:pk>/results/", views.ResultsView.as_view(), name="results"),
    path("<int:pk>/vote/", views.vote, name="vote"),
    path("bench/", views.bench, name="bench"),
    path("bench-wait/", views.bench_wait, name="bench_wait"),
    path("atomic-probe/", views.atomic_probe, name="atomic_probe"),
    path("cache-probe/", views.cache_probe, name="cache_probe"),
]
