from __future__ import annotations

from django.urls import path

from vaults import views

app_name = "vaults"
urlpatterns = [
    path("", views.vault_list, name="list"),
    path("<int:pk>/", views.dashboard, name="dashboard"),
]
