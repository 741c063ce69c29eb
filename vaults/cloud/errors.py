"""The one error map: whatever the SDK or ``requests`` raised, as a ``FabricError`` a person can act on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests
from azure.common import AzureException

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
                         recommendation="Correct the cause named above, then try again.")


class OperationTimedOut(FabricError):
    """An asynchronous operation did not end within the time allowed; worth another try."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False, code="OperationTimedOut",
                         recommendation="Try again; if it keeps happening, check the subscription's endpoint.")


def describe_failure(endpoint: Endpoint, error: Exception) -> FabricError:
    """Turn what the SDK or requests raised into a FabricError a person can act on."""
    where = f"the endpoint at {endpoint.host}"
    if isinstance(error, FabricError):
        return error
    if isinstance(error, requests.exceptions.SSLError):
        return FabricError(
            f"The TLS handshake with {where} failed ({_short(error)}). Check the management certificate "
            "and the CA certificate of the subscription.", transient=False)
    if isinstance(error, requests.exceptions.Timeout):
        return FabricError(f"{where.capitalize()} did not answer in time. Try again; if it persists, check the endpoint.",
                           transient=True)
    if isinstance(error, requests.exceptions.ConnectionError):
        return FabricError(
            f"Could not connect to {where}. Check that it is running and that the subscription's host is right.",
            transient=True)
    status = getattr(error, "status_code", None)
    if isinstance(error, AzureException):
        text = _short(error)
        if status is not None and status >= 500:
            return FabricError(f"{where.capitalize()} answered with a server error ({status}): {text}. Try again later.",
                               transient=True, status=status)
        if status in (401, 403):
            return FabricError(f"{where.capitalize()} refused the management certificate ({status}): {text}.",
                               transient=False, status=status)
        return FabricError(f"{where.capitalize()} refused the request ({status or 'error'}): {text}.",
                           transient=False, status=status)
    return FabricError(f"Talking to {where} failed unexpectedly: {_short(error)}.", transient=True)


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
