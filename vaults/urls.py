from __future__ import annotations

from django.urls import path

from vaults.views import commands, keys, machines, policies, protect, protected, registered, restore, subscriptions
from vaults.views import vaults as views

app_name = "vaults"
urlpatterns = [
    path("", views.vault_list, name="list"),
    path("quick-create/", views.quick_create, name="quick_create"),
    path("subscriptions/", subscriptions.subscription_list, name="subscriptions"),
    path("virtual-machines/", machines.machine_list, name="machines"),
    path("subscriptions/<int:pk>/test/", subscriptions.subscription_test, name="subscription_test"),
    path("<int:pk>/", views.vault_open, name="open"),
    path("<int:pk>/quick-start/", views.quickstart, name="quickstart"),
    path("<int:pk>/dashboard/", views.dashboard, name="dashboard"),
    path("<int:pk>/configure/", views.configure, name="configure"),
    path("<int:pk>/configure/soft-delete/", views.configure_soft_delete, name="configure_soft_delete"),
    path("<int:pk>/configure/immutability/", views.configure_immutability, name="configure_immutability"),
    path("<int:pk>/configure/key/export/", keys.export_key, name="export_key"),
    path("<int:pk>/configure/key/import/", keys.import_key, name="import_key"),
    path("<int:pk>/jobs/", views.jobs, name="jobs"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("<int:pk>/registered-items/", registered.registered_items, name="registered"),
    path("<int:pk>/registered-items/discover/", registered.discover, name="discover"),
    path("<int:pk>/registered-items/register/", registered.register_dialog, name="register_dialog"),
    path("<int:pk>/registered-items/register/start/", registered.register, name="register"),
    path("<int:pk>/registered-items/unregister/", registered.unregister, name="unregister"),
    path("<int:pk>/registered-items/protect/", protect.protect_dialog, name="protect_dialog"),
    path("<int:pk>/registered-items/protect/start/", protect.protect, name="protect"),
    path("<int:pk>/protected-items/", protected.protected_items, name="protected"),
    path("<int:pk>/protected-items/<int:item_pk>/", protected.protected_item, name="protected_item"),
    path("<int:pk>/protected-items/backup-now/", commands.backup_now, name="backup_now"),
    path("<int:pk>/protected-items/restore/", restore.restore_dialog, name="restore_dialog"),
    path("<int:pk>/protected-items/restore/start/", restore.restore, name="restore"),
    path("<int:pk>/protected-items/stop/", commands.stop_dialog, name="stop_dialog"),
    path("<int:pk>/protected-items/stop/start/", commands.stop, name="stop"),
    path("<int:pk>/protected-items/delete-data/", commands.delete_data, name="delete_data"),
    path("<int:pk>/protected-items/undelete/", commands.undelete, name="undelete"),
    path("<int:pk>/verify/", commands.verify, name="verify"),
    path("<int:pk>/policies/", policies.policy_list, name="policies"),
    path("<int:pk>/policies/new/", policies.policy_new, name="policy_new"),
    path("<int:pk>/policies/edit/", policies.policy_edit, name="policy_edit"),
    path("<int:pk>/policies/preview/", policies.policy_preview, name="policy_preview"),
    path("<int:pk>/policies/save/", policies.policy_save, name="policy_save"),
    path("<int:pk>/policies/delete/", policies.policy_delete, name="policy_delete"),
]
