from __future__ import annotations

from django.urls import path

from vaults import items, views

app_name = "vaults"
urlpatterns = [
    path("", views.vault_list, name="list"),
    path("quick-create/", views.quick_create, name="quick_create"),
    path("subscriptions/", views.subscription_list, name="subscriptions"),
    path("subscriptions/<int:pk>/test/", views.subscription_test, name="subscription_test"),
    path("<int:pk>/", views.vault_open, name="open"),
    path("<int:pk>/quick-start/", views.quickstart, name="quickstart"),
    path("<int:pk>/dashboard/", views.dashboard, name="dashboard"),
    path("<int:pk>/configure/", views.configure, name="configure"),
    path("<int:pk>/jobs/", views.jobs, name="jobs"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("<int:pk>/registered-items/", items.registered_items, name="registered"),
    path("<int:pk>/registered-items/discover/", items.discover, name="discover"),
    path("<int:pk>/registered-items/register/", items.register_dialog, name="register_dialog"),
    path("<int:pk>/registered-items/register/start/", items.register, name="register"),
    path("<int:pk>/registered-items/unregister/", items.unregister, name="unregister"),
]
