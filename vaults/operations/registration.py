"""The Register and Unregister jobs: install or remove the backup extension of a VM through the compute API.

Each task re-reads its rows by id and computes the remaining work, so a retry
after a transient fabric error never does anything twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from jobs.errors import JobError, OperationInProgress
from jobs.models import Job, Operation
from jobs.runner import JobContext
from portal.events import publish
from vaults.cloud import extension
from vaults.cloud.endpoint import Endpoint, compute_client
from vaults.cloud.errors import describe_failure
from vaults.cloud.hosted import find_vm
from vaults.cloud.polling import wait_for_operation
from vaults.models import RegisteredItem, User, Vault, VirtualMachine
from vaults.operations.base import VaultOperation, parking
from vaults.services.failures import job_failures
from vaults.services.refusals import require_operator
from vaults.services.registration import preflight_errors, registration_refusal, unregistration_refusal


@dataclass
class RegisterOutcome:
    vm: VirtualMachine
    item: RegisteredItem | None = None
    refusal: str = ""


def _announce(item: RegisteredItem) -> None:
    publish([f"vault:{item.vault_id}"], "item", {"id": item.pk, "status": item.status})


class Register(VaultOperation):
    task_name = "vaults.register"
    operation = Operation.REGISTER

    @classmethod
    def start_many(cls, user: User, vault: Vault, vm_ids: list[int]) -> list[RegisterOutcome]:
        """REGISTER: one Register job per VM; a VM that cannot be registered gets its reason instead."""
        require_operator(user, "register virtual machines")
        vms = VirtualMachine.objects.filter(subscription=vault.subscription, pk__in=vm_ids).select_related("registration")
        outcomes = []
        for vm in vms:
            outcome = RegisterOutcome(vm, refusal=registration_refusal(vault, vm))
            outcomes.append(outcome)
            if outcome.refusal:
                continue
            try:
                outcome.item = cls._start_one(user, vault, vm, getattr(vm, "registration", None))
            except OperationInProgress as refusal:
                outcome.refusal = _("'%(vm)s': %(refusal)s.") % {"vm": vm.display_name, "refusal": refusal}
            except IntegrityError:
                outcome.refusal = _("'%(vm)s' was registered with a vault meanwhile.") % {"vm": vm.display_name}
        return outcomes

    @classmethod
    def _start_one(cls, user: User, vault: Vault, vm: VirtualMachine, existing: RegisteredItem | None) -> RegisteredItem:
        with transaction.atomic():
            if existing is None:
                item = RegisteredItem.objects.create(vault=vault, vm=vm)
            else:  # retrying a registration that failed
                item = existing
                item.retry_registering()
            cls._enqueue(user, vault, item_type="vm", item_key=item.item_key, item_name=vm.display_name,
                         params={"item": item.pk})
        return item

    @classmethod
    def cleanup(cls, job: Job, reason: str) -> None:
        """A registration that stopped before it finished leaves the VM free for another try."""
        item = RegisteredItem.objects.filter(pk=job.params.get("item")).first()
        if item is not None and item.status == RegisteredItem.Status.REGISTERING:
            item.delete()
            publish([f"vault:{job.vault_id}"], "item", {"id": job.params.get("item"), "status": "removed"})

    @classmethod
    def run(cls, ctx: JobContext) -> None:
        item = RegisteredItem.objects.select_related("vm", "vault__subscription").filter(pk=ctx.params["item"]).first()
        if item is None or item.status == RegisteredItem.Status.REGISTERED:
            return  # gone, or a redelivered message for work already done
        vm, endpoint = item.vm, item.vault.subscription.endpoint
        ctx.set_property("Virtual machine", f"{vm.name} ({vm.cloud_service})")
        try:
            with ctx.subtask(gettext_noop("Check the virtual machine")), job_failures(endpoint):
                refusal = preflight_errors(vm, find_vm(endpoint, vm.cloud_service, vm.name, vm.region))
                if refusal is not None:
                    raise refusal
            ctx.progress(20)
            with ctx.subtask(gettext_noop("Install the backup extension")), job_failures(endpoint):
                _install_extension(ctx, endpoint, vm)
        except JobError as error:
            item.mark_failed(error.code, error.message, " ".join(error.recommendations))
            _announce(item)
            raise
        item.mark_registered()
        _announce(item)
        ctx.progress(100)


def _install_extension(ctx: JobContext, endpoint: Endpoint, vm: VirtualMachine) -> None:
    """Update Role with the backup extension (once: a resumed job waits for the request it made), then wait until
    the extension reports Ready. The job parks while it waits."""
    client = compute_client(endpoint)
    wait = parking(ctx, "install")
    request_id = ctx.params.get("install_request")
    if request_id is None:
        path = extension.role_path(endpoint.subscription_id, vm.cloud_service, vm.deployment, vm.name)
        references, os_type = extension.read_role(client, path)
        if not any(ref.is_backup for ref in references):
            request_id = extension.update_references(client, path, [*references, extension.backup_reference(os_type)])
        ctx.remember(install_request=request_id or "")
    if request_id:
        wait_for_operation(client, request_id, timeout=settings.REGISTER_TIMEOUT_SECONDS,
                           what="Installing the backup extension", wait=wait)
    ctx.progress(60)

    def ready() -> bool:
        status = extension.extension_status(client, endpoint, vm.cloud_service, vm.name)
        return status is not None and status.handler_status == "Ready"

    if not wait(ready, settings.REGISTER_TIMEOUT_SECONDS):
        raise JobError("ExtensionInstallTimedOut", _("The backup extension did not report ready on '%(vm)s' within "
                                                     "%(seconds)s seconds.")
                       % {"vm": vm.display_name, "seconds": settings.REGISTER_TIMEOUT_SECONDS},
                       [_("Check that the VM agent is running and can reach the service, then register the VM "
                          "again.")], retryable=True)


class Unregister(VaultOperation):
    task_name = "vaults.unregister"
    operation = Operation.UNREGISTER

    @classmethod
    def start_many(cls, user: User, vault: Vault, item_ids: list[int]) -> list[str]:
        """UNREGISTER: one Unregister job per item; protected items are refused (stop protection first)."""
        require_operator(user, "unregister virtual machines")
        refusals = []
        for item in vault.registered_items.filter(pk__in=item_ids).select_related("vm"):
            if refusal := unregistration_refusal(item):
                refusals.append(refusal)
                continue
            try:
                with transaction.atomic():
                    cls._enqueue(user, vault, item_type="vm", item_key=item.item_key, item_name=item.name,
                                 params={"item": item.pk})
                    item.start_unregistering()
            except OperationInProgress as refusal:
                refusals.append(f"'{item.name}': {refusal}.")
        return refusals

    @classmethod
    def cleanup(cls, job: Job, reason: str) -> None:
        item = RegisteredItem.objects.filter(pk=job.params.get("item")).first()
        if item is not None:
            item.unregistering_stopped()

    @classmethod
    def run(cls, ctx: JobContext) -> None:
        item = RegisteredItem.objects.select_related("vm", "vault__subscription").filter(pk=ctx.params["item"]).first()
        if item is None:
            return
        vm, endpoint = item.vm, item.vault.subscription.endpoint
        if not vm.gone:
            with ctx.subtask(gettext_noop("Remove the backup extension")), job_failures(endpoint):
                _remove_extension(ctx, endpoint, vm)
        vault_id = item.vault_id
        item.delete()
        publish([f"vault:{vault_id}"], "item", {"id": ctx.params["item"], "status": "removed"})
        ctx.progress(100)


def _remove_extension(ctx: JobContext, endpoint: Endpoint, vm: VirtualMachine) -> None:
    """Update Role without the backup extension (once: a resumed job waits for the request it made)."""
    client = compute_client(endpoint)
    request_id = ctx.params.get("remove_request")
    if request_id is None:
        path = extension.role_path(endpoint.subscription_id, vm.cloud_service, vm.deployment, vm.name)
        try:
            references, _os = extension.read_role(client, path)
        except Exception as error:
            if describe_failure(endpoint, error).status != 404:
                raise
            return  # the VM is gone: nothing to remove
        if not any(ref.is_backup for ref in references):
            return
        request_id = extension.update_references(client, path, [r for r in references if not r.is_backup])
        ctx.remember(remove_request=request_id)
    wait_for_operation(client, request_id, timeout=settings.REGISTER_TIMEOUT_SECONDS,
                       what="Removing the backup extension", wait=parking(ctx, "remove"))
