"""The one error map: whatever the SDK or ``requests`` raised, as a ``FabricError`` a person can act on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests
from azure.common import AzureException
from django.utils.translation import gettext as _

from vaults.cloud.endpoint import Endpoint


class FabricError(Exception):
    """A compute call failed; ``str()`` is a sentence for the user, ``transient`` says whether to retry."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None, code: str = "",
                 recommendation: str = "") -> None:
        super().__init__(message)
        self.transient = transient
        self.status = status
        self.code = code
        self.recommendation = recommendation


class OperationFailed(FabricError):
    """An asynchronous operation ended Failed; ``code`` is the endpoint's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, transient=False, code=code or "OperationFailed",
                         recommendation=_("Correct the cause named above, then try again."))


class OperationTimedOut(FabricError):
    """An asynchronous operation did not end within the time allowed; worth another try."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False, code="OperationTimedOut",
                         recommendation=_("Try again; if it keeps happening, check the subscription's endpoint."))


def describe_failure(endpoint: Endpoint, error: Exception) -> FabricError:
    """Turn what the SDK or requests raised into a FabricError a person can act on."""
    if isinstance(error, FabricError):
        return error
    status = getattr(error, "status_code", None)
    values = {"host": endpoint.host, "error": _short(error), "status": status or "error"}
    if isinstance(error, requests.exceptions.SSLError):
        return FabricError(
            _("The TLS handshake with the endpoint at %(host)s failed (%(error)s). Check the management certificate "
              "and the CA certificate of the subscription.") % values, transient=False)
    if isinstance(error, requests.exceptions.Timeout):
        return FabricError(_("The endpoint at %(host)s did not answer in time. Try again; if it persists, check the "
                             "endpoint.") % values, transient=True)
    if isinstance(error, requests.exceptions.ConnectionError):
        return FabricError(
            _("Could not connect to the endpoint at %(host)s. Check that it is running and that the subscription's "
              "host is right.") % values, transient=True)
    if isinstance(error, AzureException):
        if status is not None and status >= 500:
            return FabricError(_("The endpoint at %(host)s answered with a server error (%(status)s): %(error)s. Try "
                                 "again later.") % values, transient=True, status=status)
        if status in (401, 403):
            return FabricError(_("The endpoint at %(host)s refused the management certificate (%(status)s): "
                                 "%(error)s.") % values, transient=False, status=status)
        return FabricError(_("The endpoint at %(host)s refused the request (%(status)s): %(error)s.") % values,
                           transient=False, status=status)
    return FabricError(_("Talking to the endpoint at %(host)s failed unexpectedly: %(error)s.") % values,
                       transient=True)


@contextmanager
def described(endpoint: Endpoint) -> Iterator[None]:
    """Raise whatever a call to ``endpoint`` raised as the ``FabricError`` ``describe_failure`` words."""
    try:
        yield
    except FabricError:
        raise
    except Exception as error:  # noqa: BLE001 - every failure becomes a sentence for the user
        raise describe_failure(endpoint, error) from error


def is_client_failure(error: BaseException) -> bool:
    """Whether ``error`` came out of the SDK or the HTTP stack (and so ``describe_failure`` should word it)."""
    return error.__class__.__module__.startswith(("requests", "azure", "urllib3"))


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else error.__class__.__name__)[:300]
