"""The Discovery job: the VMs of the vault's region, read from the fabric and written to the VM list."""

from __future__ import annotations

import logging

from django.utils.translation import gettext_lazy, gettext_noop

from jobs.models import Job, Operation
from jobs.runner import JobContext
from portal.events import publish
from vaults.cloud.hosted import fetch_region
from vaults.models import User, Vault
from vaults.operations.base import VaultOperation
from vaults.services import discovery
from vaults.services.failures import job_failures
from vaults.services.refusals import require_operator

log = logging.getLogger(__name__)

IN_PROGRESS = gettext_lazy("Another Discovery operation is already in progress.")


class Discovery(VaultOperation):
    task_name = "vaults.discover"
    operation = Operation.DISCOVERY

    @classmethod
    def start(cls, user: User, vault: Vault) -> Job:
        """DISCOVER: one Discovery job per vault at a time."""
        require_operator(user, "discover VMs")
        return cls._enqueue(user, vault, item_type="vault", item_key=f"vault:{vault.pk}:discovery",
                            item_name=vault.name, params={"vault": vault.pk})

    @classmethod
    def run(cls, ctx: JobContext) -> None:
        vault = Vault.objects.select_related("subscription").filter(pk=ctx.params["vault"]).first()
        if vault is None:
            log.info("vault %s is gone; nothing to discover", ctx.params["vault"])
            return
        endpoint = vault.subscription.endpoint
        with ctx.subtask(gettext_noop("Query virtual machines")), job_failures(endpoint):
            found = fetch_region(endpoint, vault.region, check_cancelled=ctx.check_cancelled,
                                 on_progress=lambda done, total: ctx.progress(90 * done / max(total, 1)))
        with ctx.subtask(gettext_noop("Update the list of virtual machines")):
            counts = discovery.record(vault, found)
        ctx.set_property("Virtual machines found", counts["found"])
        ctx.set_property("New", counts["new"])
        ctx.set_property("No longer present", counts["gone"])
        ctx.progress(100)
        publish([f"vault:{vault.pk}"], "item", {"discovered": counts["found"]})
