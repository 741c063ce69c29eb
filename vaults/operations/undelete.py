"""The Undelete job: UNDELETE on Protected Items (and ``manage.py undelete``) brings a soft-deleted item back as
Protection Stopped, with every recovery point it had.

A job, like every other command on an item, so that it takes its turn with the item's other operations (one at a
time per VM) and is in the Jobs list and the operations log; the move itself is one compare-and-swap, so a
redelivered message changes nothing twice, and a purge that has begun is never undone halfway.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from jobs.errors import JobError
from jobs.models import Job, Operation
from jobs.runner import JobContext
from portal.events import publish
from vaults.models import ProtectedItem, User
from vaults.operations.base import VaultOperation
from vaults.services.soft_delete import check_undelete, undelete_item


class Undelete(VaultOperation):
    task_name = "vaults.undelete"
    operation = Operation.UNDELETE

    @classmethod
    def start(cls, user: User, item: ProtectedItem) -> Job:
        """UNDELETE: an operator, and an item soft deleted whose purge has not begun."""
        check_undelete(user, item)
        return cls._enqueue_for(user, item)

    @classmethod
    def run(cls, ctx: JobContext) -> None:
        item = ProtectedItem.objects.select_related("item__vm").filter(pk=ctx.params["protected_item"]).first()
        if item is None:
            raise JobError("BackupDataPurged", _("The soft-deleted backup data was purged before it could be undeleted."),
                           [_("Protect the VM again; its next backup is a full one.")])
        ctx.set_property("Virtual machine", item.item.vm.display_name)
        with ctx.subtask(gettext_noop("Undelete backup data")):
            if not undelete_item(item) and item.status != ProtectedItem.Status.STOPPED:  # STOPPED: done by an earlier run
                raise JobError("SoftDeletePeriodEnded", _("The soft-delete period of '%(vm)s' ended: its backup data "
                                                          "is being purged and can no longer be undeleted.")
                               % {"vm": item.item.vm.display_name},
                               [_("Protect the VM again; its next backup is a full one.")])
            ctx.set_property("Recovery points", item.recovery_points.count())
        ctx.progress(100)
        publish([f"vault:{item.vault_id}"], "item", {"protected_item": item.pk, "status": item.status})
