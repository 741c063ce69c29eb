"""The one poller: asynchronous operations and extension states are polled with growing pauses.

The SDK's own waiter prints to stdout, so operations are polled here. ``sleep`` is injected: a job passes its
context's sleep (which notices a cancel); code with no job to report to passes ``time.sleep``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from azure.servicemanagement import ServiceManagementService
from django.conf import settings

from vaults.cloud.errors import OperationFailed, OperationTimedOut

Sleep = Callable[[float], None]
# A way to wait: ``wait(check, timeout)`` is True once ``check()`` is, False when ``timeout`` seconds passed first.
# A job passes one that parks the job between checks (``JobContext.wait``), so a long wait holds no worker slot.
Waiter = Callable[[Callable[[], bool], float], bool]


def poll_delays(longest: float | None = None) -> Iterator[float]:
    """Pauses between polls: a short first one, doubling up to ``FABRIC_POLL_SECONDS``. An operation that is over
    in a moment is seen at once, and one that takes minutes is not asked about more often than the setting."""
    longest = settings.FABRIC_POLL_SECONDS if longest is None else longest
    delay = min(0.02, longest)
    while True:
        yield delay
        delay = min(delay * 2, longest)


def poll(check: Callable[[], bool], *, timeout: float, sleep: Sleep = time.sleep) -> bool:
    """Call ``check`` until it returns True (then True) or ``timeout`` seconds pass (then False)."""
    deadline = time.monotonic() + timeout
    delays = poll_delays()
    while not check():
        if time.monotonic() > deadline:
            return False
        sleep(next(delays))
    return True


def wait_for_operation(client: ServiceManagementService, request_id: str, *, timeout: float, what: str,
                       wait: Waiter | None = None) -> None:
    """Wait until the operation ``request_id`` ends; ``OperationFailed`` or ``OperationTimedOut`` when it does not
    succeed. ``what`` starts the sentences ("Installing the backup extension"). ``wait`` defaults to polling here."""
    outcome: list = []

    def ended() -> bool:
        status = client.get_operation_status(request_id)
        if status.status in ("Succeeded", "Failed"):
            outcome.append(status)
            return True
        return False

    if not (wait or blocking)(ended, timeout):
        raise OperationTimedOut(f"{what} did not finish within {timeout:.0f} seconds.")
    if outcome[0].status == "Failed":
        error = outcome[0].error
        raise OperationFailed(error.code, f"{what} failed: {error.message}")


def blocking(check: Callable[[], bool], timeout: float) -> bool:
    """The ``Waiter`` of code with no job to park: poll in this thread."""
    return poll(check, timeout=timeout)


def settle(client: ServiceManagementService, request_id: str | None, *, timeout: float = 60.0,
           sleep: Sleep = time.sleep) -> None:
    """Wait until an operation is no longer in progress, however it ended (used before undoing what it made)."""
    if request_id:
        poll(lambda: client.get_operation_status(request_id).status != "InProgress", timeout=timeout, sleep=sleep)
