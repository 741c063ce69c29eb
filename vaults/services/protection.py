"""Protection: which VMs can be protected, the protected-item rows, and the checks of the commands on them.

Starting the jobs (Configure Protection, Backup, Stop Protection, Delete
Backup Data) is ``vaults.operations``'s; the rules they check are here.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from vaults.models import Policy, ProtectedItem, RegisteredItem, User, Vault
from vaults.services.refusals import InvalidRequest, NotNow, require_administrator, require_operator
from vaults.services.soft_delete import check_deletable


def protectable(vault: Vault) -> QuerySet[RegisteredItem]:
    """Registered VMs of the vault that are not under protection (a stopped one may be protected again; a soft-deleted
    one once it is undeleted)."""
    return (vault.registered_items.filter(status=RegisteredItem.Status.REGISTERED, vm__gone=False)
            .exclude(protection__status__in=[*ProtectedItem.ACTIVE, *ProtectedItem.DELETED]).select_related("vm"))


def check_protect(user: User, vault: Vault, item_ids: list[int], policy: Policy) -> dict[int, RegisteredItem]:
    """The PROTECT request's rules; returns the registered items that may be protected, by id."""
    require_operator(user, "protect virtual machines")
    if policy.vault_id != vault.pk:
        raise InvalidRequest(_("Choose a policy of this vault."), field="existing")
    if not item_ids:
        raise InvalidRequest(_("Select at least one virtual machine to protect."), field="vms")
    return {item.pk: item for item in protectable(vault).filter(pk__in=item_ids)}


def protection_row(registered: RegisteredItem, vault: Vault, policy: Policy) -> ProtectedItem:
    """The protected item for ``registered`` under ``policy``: new, or a stopped one protected again (its points stay)."""
    protected, created = ProtectedItem.objects.get_or_create(item=registered, defaults={"vault": vault,
                                                                                        "policy": policy})
    if not created and not protected.protect_again(policy):
        raise NotNow(_("'%(name)s' is already protected.") % {"name": registered.name})
    protected.item = registered
    return protected


def check_backup(user: User, item: ProtectedItem) -> None:
    """BACKUP NOW: an operator, and an item under protection."""
    require_operator(user, "back up virtual machines")
    if not item.is_active:
        raise NotNow(_("'%(name)s' is not protected. Protect it again before backing it up.") % {
            "name": item.item.vm.display_name})


def check_stop(user: User, item: ProtectedItem, *, delete_data: bool) -> None:
    """STOP PROTECTION: an operator may keep the data; deleting it is an administrator's, and an immutable vault's
    points within retention are not deleted."""
    if delete_data:
        require_administrator(user, "delete backup data")
    else:
        require_operator(user, "stop protection")
    _refuse_soft_deleted(item)
    if not delete_data and item.status == ProtectedItem.Status.STOPPED:
        raise NotNow(_("Protection of '%(name)s' is already stopped.") % {"name": item.item.vm.display_name})
    if delete_data:
        check_deletable(item)


def check_delete_data(user: User, item: ProtectedItem) -> None:
    """DELETE on the Protected Items bar: an administrator, an item whose protection is stopped, and no point an
    immutable vault still holds."""
    require_administrator(user, "delete backup data")
    _refuse_soft_deleted(item)
    if item.status != ProtectedItem.Status.STOPPED:
        raise NotNow(_("DELETE is for items whose protection is stopped. Use STOP PROTECTION first."))
    check_deletable(item)


def _refuse_soft_deleted(item: ProtectedItem) -> None:
    if item.is_soft_deleted:
        raise NotNow(_("The backup data of '%(name)s' is already deleted (soft deleted until %(until)s UTC). "
                       "UNDELETE brings it back.") % {"name": item.item.vm.display_name,
                                                      "until": f"{item.purge_after:%Y-%m-%d %H:%M}"})
