"""/metrics and /healthz, included at the root of the site (portal/urls.py)."""

from __future__ import annotations

from django.urls import path

from monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("metrics", views.metrics, name="metrics"),
    path("healthz", views.healthz, name="healthz"),
]
