"""The Create Vault job: quick create's key, store and DefaultPolicy, made by a worker.

``CreateVault.start`` checks the rules and reserves the vault's row (Creating) with the job, so the vault lists as
Creating and the notification strip follows the job; ``run`` builds the vault (``services.vaults.build_vault``)
and it lists as Active. A failed or cancelled job removes the row and whatever store it made: no half-made vault.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from jobs.errors import JobError
from jobs.models import Job, Operation
from jobs.runner import JobContext
from jobs.services import start_job
from portal.events import publish
from vaults.models import Subscription, User, Vault
from vaults.operations.base import VaultOperation
from vaults.services import vaults as services
from vaults.services.refusals import Refusal

log = logging.getLogger(__name__)


class CreateVault(VaultOperation):
    task_name = "vaults.create_vault"
    operation = Operation.CREATE_VAULT

    @classmethod
    def start(cls, user: User, subscription: Subscription, name: str, region: str) -> Job:
        """QUICK CREATE: the vault's row (Creating) and its Create Vault job, enqueued on commit."""
        services.check_new_vault(user, subscription, name, region)
        with transaction.atomic():
            vault = services.reserve_vault(subscription, name, region)
            # Not cancellable: it takes a moment, and a job cancelled before it ran would leave the row Creating.
            job = start_job(operation=cls.operation, user=user, subscription=subscription, vault=vault,
                            item_type="vault", item_key=f"vault:{vault.pk}", item_name=name, task_name=cls.task_name,
                            params={"vault": vault.pk, "region": region}, cancellable=False)
        publish([f"vault:{vault.pk}"], "vault", {"id": vault.pk, "status": vault.status})
        return job

    @classmethod
    def run(cls, ctx: JobContext) -> None:
        vault = Vault.objects.select_related("subscription").filter(pk=ctx.params["vault"]).first()
        if vault is None:
            raise JobError("VaultNotFound", _("The vault being created no longer exists."))
        ctx.set_property(gettext_noop("Vault"), vault.name)
        ctx.set_property(gettext_noop("Region"), vault.region)
        if vault.status == Vault.Status.ACTIVE:
            return  # a redelivered task: the vault was built already
        with ctx.subtask(gettext_noop("Create encryption key and store")):
            ctx.progress(30)
            try:
                services.build_vault(vault)
            except Refusal as refusal:
                raise JobError(refusal.code or "VaultNotCreated", str(refusal)) from refusal
        ctx.progress(100)
        publish([f"vault:{vault.pk}"], "vault", {"id": vault.pk, "status": vault.status})

    @classmethod
    def cleanup(cls, job: Job, reason: str) -> None:
        """A failed or cancelled creation leaves no vault: its Creating row and empty store go."""
        vault = Vault.objects.filter(pk=job.params.get("vault")).first()
        if vault is not None and vault.status == Vault.Status.CREATING:
            log.info("removing vault %s left Creating by job %s (%s)", vault.pk, job.pk, reason)
            services.discard_vault(vault)

    @classmethod
    def on_failure(cls, job: Job) -> None:
        # The reconciler fails a job that never started without running its cleanup: the row must go all the same.
        cls.cleanup(job, job.error_code or "failed")
