"""The one map from what the cloud clients and the vault store raise to what the job runner understands.

A ``JobError`` ends a job Failed with its code, sentence and recommendations; a ``TransientError`` is retried
with backoff; ``JobCancelled`` ends it Cancelled. Every operation runs its fabric and store calls inside
``job_failures()`` (or passes an error to ``as_job_failure``), so a failure reads the same whichever job met it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jobs.errors import JobCancelled, JobError, TransientError
from vaults.cloud.endpoint import Endpoint
from vaults.cloud.errors import FabricError, OperationTimedOut, describe_failure, is_client_failure
from vaults.cloud.pageblob import PageBlobError
from vaultstore import OperationCancelled, StoreError, StoreFullError

CHECK_ENDPOINT = gettext_lazy("Check the subscription's endpoint, then try again.")


def as_job_failure(error: BaseException, endpoint: Endpoint | None = None) -> BaseException:
    """``error`` as the runner understands it; an error this map does not know is returned as it is."""
    if isinstance(error, (JobError, TransientError, JobCancelled)):
        return error
    if isinstance(error, OperationCancelled):
        return JobCancelled()
    if isinstance(error, OperationTimedOut):
        return JobError(error.code, str(error), [error.recommendation], retryable=True)
    if endpoint is not None and not isinstance(error, FabricError) and is_client_failure(error):
        error = describe_failure(endpoint, error)  # type: ignore[arg-type]
    if isinstance(error, FabricError):
        if error.transient:
            return TransientError(str(error))
        return JobError(error.code if error.code and error.recommendation else "FabricRequestFailed", str(error),
                        [error.recommendation or CHECK_ENDPOINT])
    if isinstance(error, StoreFullError):
        return JobError("VaultStoreFull", _("The vault's storage is full: %(error)s") % {"error": error},
                        [_("Free space where the vault store lives (or delete expired recovery points), then run the "
                           "backup again. Existing recovery points are intact.")])
    if isinstance(error, PageBlobError):
        if error.transient:
            return TransientError(str(error))
        return JobError("DiskReadFailed", _("Reading the VM's disk failed: %(error)s") % {"error": error},
                        [_("Run the backup again.")], retryable=True)
    if isinstance(error, StoreError):
        return JobError(getattr(error, "code", "") or "VaultStoreError", str(error),
                        [getattr(error, "recommendation", "") or _("Run the operation again.")])
    return error


@contextmanager
def job_failures(endpoint: Endpoint | None = None) -> Iterator[None]:
    """Raise whatever the block raises as ``as_job_failure`` words it."""
    try:
        yield
    except Exception as error:
        mapped = as_job_failure(error, endpoint)
        if mapped is error:
            raise
        raise mapped from error
