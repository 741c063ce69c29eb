"""Under ``vaults/<pk>/alerts/`` (portal/urls.py), so the vaults app needs no import of this one."""

from __future__ import annotations

from django.urls import path

from alerts import views

app_name = "alerts"
urlpatterns = [
    path("", views.alerts_tab, name="alerts"),
    path("rules/<int:rule_pk>/", views.rule_save, name="rule_save"),
    path("channels/", views.channel_save, name="channel_add"),
    path("channels/<int:channel_pk>/", views.channel_save, name="channel_save"),
    path("channels/<int:channel_pk>/delete/", views.channel_delete, name="channel_delete"),
    path("channels/<int:channel_pk>/test/", views.channel_test, name="channel_test"),
]
