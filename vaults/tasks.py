"""The vault jobs: discovery, registration and unregistration, run by Celery through the jobs runner.

Each task re-reads its rows by id and computes the remaining work, so a retry
after a transient fabric error never does anything twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.conf import settings

from jobs.errors import JobError, TransientError
from jobs.runner import JobContext, job_task
from portal.events import publish
from vaults import discovery, extension
from vaults.compute import FabricError, compute_client, describe_failure
from vaults.models import RegisteredItem, Vault
from vaults.registration import preflight_errors

log = logging.getLogger(__name__)


@contextmanager
def fabric_errors(endpoint) -> Iterator[None]:
    """Compute failures as the runner understands them: transient ones retried, the rest documented."""
    try:
        yield
    except (JobError, TransientError):
        raise
    except FabricError as error:
        if error.transient:
            raise TransientError(str(error)) from error
        raise JobError("FabricRequestFailed", str(error), ["Check the subscription's endpoint, then try again."]) from error
    except Exception as error:
        if error.__class__.__module__.startswith(("requests", "azure", "urllib3")):
            failure = describe_failure(endpoint, error)
            if failure.transient:
                raise TransientError(str(failure)) from error
            raise JobError("FabricRequestFailed", str(failure), ["Check the subscription's endpoint, then try again."]
                           ) from error
        raise


def _announce_item(item: RegisteredItem) -> None:
    publish([f"vault:{item.vault_id}"], "item", {"id": item.pk, "status": item.status})


# --- Discovery ---------------------------------------------------------------

@job_task("vaults.discover")
def discover(ctx: JobContext) -> None:
    vault = Vault.objects.select_related("subscription").filter(pk=ctx.params["vault"]).first()
    if vault is None:
        log.info("vault %s is gone; nothing to discover", ctx.params["vault"])
        return
    endpoint = vault.subscription.endpoint
    with ctx.subtask("Query virtual machines"), fabric_errors(endpoint):
        found = discovery.fetch_region(endpoint, vault.region, check_cancelled=ctx.check_cancelled,
                                       on_progress=lambda done, total: ctx.progress(90 * done / max(total, 1)))
    with ctx.subtask("Update the list of virtual machines"):
        counts = discovery.record(vault, found)
    ctx.set_property("Virtual machines found", counts["found"])
    ctx.set_property("New", counts["new"])
    ctx.set_property("No longer present", counts["gone"])
    ctx.progress(100)
    publish([f"vault:{vault.pk}"], "item", {"discovered": counts["found"]})


# --- Register ----------------------------------------------------------------

def poll_delays() -> Iterator[float]:
    """Pauses between polls: a short first one, doubling up to ``FABRIC_POLL_SECONDS``. An operation that is over
    in a moment is seen at once, and one that takes minutes is not asked about more often than the setting."""
    delay = min(0.02, settings.FABRIC_POLL_SECONDS)
    while True:
        yield delay
        delay = min(delay * 2, settings.FABRIC_POLL_SECONDS)


def wait_for_operation(ctx: JobContext, client, request_id: str, *, timeout: float, what: str) -> None:
    """Poll an asynchronous compute operation ourselves (the SDK's waiter prints to stdout)."""
    deadline = time.monotonic() + timeout
    delays = poll_delays()
    while True:
        status = client.get_operation_status(request_id)
        if status.status == "Succeeded":
            return
        if status.status == "Failed":
            error = status.error
            raise JobError(error.code or "OperationFailed", f"{what} failed: {error.message}",
                           ["Correct the cause named above, then try again."])
        if time.monotonic() > deadline:
            raise JobError("OperationTimedOut", f"{what} did not finish within {timeout:.0f} seconds.",
                           ["Try again; if it keeps happening, check the subscription's endpoint."], retryable=True)
        ctx.sleep(next(delays))


def wait_until(ctx: JobContext, check: Callable[[], bool], *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    delays = poll_delays()
    while not check():
        if time.monotonic() > deadline:
            return False
        ctx.sleep(next(delays))
    return True


def _fetch_vm(endpoint, vm) -> discovery.FoundVM | None:
    client = compute_client(endpoint)
    try:
        root = discovery.raw_xml(client, f"/{endpoint.subscription_id}/services/hostedservices/{vm.cloud_service}"
                                         "?embed-detail=true")
    except Exception as error:
        if describe_failure(endpoint, error).status == 404:
            return None
        raise
    return next((f for f in discovery.parse_hosted_service(root, vm.region) if f.name == vm.name), None)


def _fail_item(job, reason: str) -> None:
    item = RegisteredItem.objects.filter(pk=job.params.get("item")).first()
    if item is None:
        return
    if item.status == RegisteredItem.Status.REGISTERING:
        # A registration that stopped before it finished leaves the VM free for another try.
        item.delete()
        publish([f"vault:{job.vault_id}"], "item", {"id": job.params.get("item"), "status": "removed"})


@job_task("vaults.register", cleanup=_fail_item)
def register(ctx: JobContext) -> None:
    item = RegisteredItem.objects.select_related("vm", "vault__subscription").filter(pk=ctx.params["item"]).first()
    if item is None or item.status == RegisteredItem.Status.REGISTERED:
        return  # gone, or a redelivered message for work already done
    vm, endpoint = item.vm, item.vault.subscription.endpoint
    ctx.set_property("Virtual machine", f"{vm.name} ({vm.cloud_service})")
    try:
        with ctx.subtask("Check the virtual machine"), fabric_errors(endpoint):
            refusal = preflight_errors(vm, _fetch_vm(endpoint, vm))
            if refusal is not None:
                raise refusal
        ctx.progress(20)
        path = extension.role_path(endpoint.subscription_id, vm.cloud_service, vm.deployment, vm.name)
        with ctx.subtask("Install the backup extension"), fabric_errors(endpoint):
            client = compute_client(endpoint)
            references, os_type = extension.read_role(client, path)
            if not any(ref.is_backup for ref in references):
                request_id = extension.update_references(client, path, [*references, extension.backup_reference(os_type)])
                wait_for_operation(ctx, client, request_id, timeout=settings.REGISTER_TIMEOUT_SECONDS,
                                   what="Installing the backup extension")
            ctx.progress(60)

            def ready() -> bool:
                status = extension.extension_status(client, endpoint.subscription_id, vm.cloud_service, vm.name)
                return status is not None and status.handler_status == "Ready"

            if not wait_until(ctx, ready, timeout=settings.REGISTER_TIMEOUT_SECONDS):
                raise JobError("ExtensionInstallTimedOut", f"The backup extension did not report ready on '{vm.name}' "
                               f"within {settings.REGISTER_TIMEOUT_SECONDS} seconds.",
                               ["Check that the VM agent is running and can reach the service, then register "
                                "the VM again."], retryable=True)
    except JobError as error:
        RegisteredItem.objects.filter(pk=item.pk).update(
            status=RegisteredItem.Status.ERROR, error_code=error.code, error_message=error.message,
            recommendation=" ".join(error.recommendations))
        item.status = RegisteredItem.Status.ERROR
        _announce_item(item)
        raise
    RegisteredItem.objects.filter(pk=item.pk).update(status=RegisteredItem.Status.REGISTERED)
    item.status = RegisteredItem.Status.REGISTERED
    _announce_item(item)
    ctx.progress(100)


# --- Unregister --------------------------------------------------------------

def _restore_registered(job, reason: str) -> None:
    RegisteredItem.objects.filter(pk=job.params.get("item"), status=RegisteredItem.Status.UNREGISTERING).update(
        status=RegisteredItem.Status.REGISTERED)


@job_task("vaults.unregister", cleanup=_restore_registered)
def unregister(ctx: JobContext) -> None:
    item = RegisteredItem.objects.select_related("vm", "vault__subscription").filter(pk=ctx.params["item"]).first()
    if item is None:
        return
    vm, endpoint = item.vm, item.vault.subscription.endpoint
    if not vm.gone:
        path = extension.role_path(endpoint.subscription_id, vm.cloud_service, vm.deployment, vm.name)
        with ctx.subtask("Remove the backup extension"), fabric_errors(endpoint):
            client = compute_client(endpoint)
            try:
                references, _os = extension.read_role(client, path)
            except Exception as error:
                if describe_failure(endpoint, error).status != 404:
                    raise
                references = None  # the VM is gone: nothing to remove
            if references is not None and any(ref.is_backup for ref in references):
                request_id = extension.update_references(client, path, [r for r in references if not r.is_backup])
                wait_for_operation(ctx, client, request_id, timeout=settings.REGISTER_TIMEOUT_SECONDS,
                                   what="Removing the backup extension")
    vault_id = item.vault_id
    item.delete()
    publish([f"vault:{vault_id}"], "item", {"id": ctx.params["item"], "status": "removed"})
    ctx.progress(100)


# Protection's, backup's, restore's and maintenance's job tasks live in their own modules; importing them here
# registers them with Celery.
from vaults import backup_tasks, maintenance, protection_tasks, restore  # noqa: E402,F401
