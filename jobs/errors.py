"""The errors of the jobs app: refusals the views show, and failures tasks raise.

Other apps raise ``JobError`` for a documented failure (it carries the code,
the sentence and what to do next) and ``TransientError`` for a failure worth
retrying (a fabric 5xx, a dropped connection). Anything else a task raises is
an internal error: the job fails with a message that says to retry.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class Refusal(Exception):
    """A request a service turns down, before any job exists.

    ``str(error)`` is the sentence shown to the user (it says what to do next), ``code`` a stable name for
    programs, and ``field`` the form field the sentence belongs to (None for the request as a whole). Every
    refusal of every app derives from this class, so a view or a command catches one type.
    """

    code = "Refused"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        message = str(message)  # a lazy sentence is worded now, in the language of the request that met it
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class OperationInProgress(Refusal):
    MESSAGE = gettext_lazy("Another operation is in progress on this item")
    code = "OperationInProgress"

    def __init__(self, item_key: str = "") -> None:
        super().__init__(self.MESSAGE)
        self.item_key = item_key


class CancelRefused(Refusal):
    code = "CancelRefused"
    NOT_CANCELLABLE_STATE = gettext_lazy("The job is not in a cancellable state.")
    NOT_SUPPORTED = gettext_lazy("Cancellation is not supported for this job type.")


class JobError(Exception):
    """A documented failure: the job ends Failed with this code, message and recommendations."""

    def __init__(self, code: str, message: str, recommendations: Sequence[str] | str = (), *,
                 retryable: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.recommendations = [recommendations] if isinstance(recommendations, str) else list(recommendations)
        self.retryable = retryable


class TransientError(Exception):
    """A failure that may pass (fabric 5xx, connection reset): the runner retries it with backoff."""


class JobCancelled(Exception):
    """Raised by ``JobContext.check_cancelled()`` once a cancel was requested; the runner ends the job Cancelled."""


# What a user reads when a job failed for a reason nobody documented. Lazy: worded when the job stores them, in
# the language of the user who asked for the job (jobs.runner activates it).
INTERNAL_ERROR = JobError(
    "InternalError",
    gettext_lazy("An internal error occurred while running the job."),
    [gettext_lazy("Run the operation again. If it fails again, contact your administrator with the job id.")],
    retryable=True,
)

WORKER_LOST = JobError(
    "WorkerLost",
    gettext_lazy("The worker running this job stopped unexpectedly, and the job was stopped. Nothing it had half "
                 "done was kept."),
    [gettext_lazy("Run the operation again.")],
    retryable=True,
)

NEVER_PICKED_UP = JobError(
    "NotPickedUp",
    gettext_lazy("No worker picked up this job."),
    [gettext_lazy("Check that a job worker is running, then run the operation again.")],
    retryable=True,
)


def transient_exhausted(attempts: int, last: BaseException) -> JobError:
    return JobError(
        "TransientFailure",
        (_("The operation failed once with a temporary error and was stopped: %(error)s") if attempts == 1 else
         _("The operation failed %(count)s times with a temporary error and was stopped: %(error)s"))
        % {"count": attempts, "error": last},
        [_("Check that the subscription's endpoint is reachable, then run the operation again.")],
        retryable=True,
    )
