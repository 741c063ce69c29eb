"""How every process logs: one format for the web process, the workers and beat, with the running job's id.

``LOG_FORMAT=plain`` (the default) writes lines a person reads::

    2026-12-03T19:30:00.123Z INFO jobs.runner [job 42] temporary error (...); attempt 2 of 4 in 2.0 s

``LOG_FORMAT=json`` writes one JSON object per line for a log collector, with the same fields:
``timestamp`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, ``job_id`` while a job runs, and
``exception`` when the record carries one.

The job's id comes from ``current_job_id``, a context variable the job runner sets while it runs a job
(``jobs/runner.py``); ``JobIdFilter`` copies it onto each record. Django applies ``logging_config`` at start-up
(``settings.LOGGING``); uvicorn's loggers are routed to the same handler there, and Celery is told not to set up
logging of its own (``portal/celery.py``), so every process writes the same format. This module imports nothing
of Django, so settings may use it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

current_job_id: ContextVar[int | None] = ContextVar("current_job_id", default=None)

FORMATS = ("plain", "json")


@contextlib.contextmanager
def job_context(job_id: int) -> Iterator[None]:
    """Records logged inside the block (in this thread or task) carry ``job_id``."""
    token = current_job_id.set(job_id)
    try:
        yield
    finally:
        current_job_id.reset(token)


class JobIdFilter(logging.Filter):
    """Adds ``job_id`` to a record logged while a job runs (and nothing otherwise, so JSON lines omit it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        job_id = current_job_id.get()
        if job_id is not None and not hasattr(record, "job_id"):
            record.job_id = job_id
        return True


class PlainFormatter(logging.Formatter):
    """``<ISO 8601 UTC time> LEVEL logger [job N] message``, then the traceback if any."""

    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(job)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        return f"{time.strftime('%Y-%m-%dT%H:%M:%S', self.converter(record.created))}.{int(record.msecs):03d}Z"

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        job_id = getattr(record, "job_id", None)
        record.job = f" [job {job_id}]" if job_id is not None else ""
        return super().formatMessage(record)


def json_formatter() -> JsonFormatter:
    # uvicorn's records carry a copy of the message with terminal colours: not for a log collector.
    return JsonFormatter("%(levelname)s %(name)s %(message)s", timestamp=True,
                         rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
                         reserved_attrs=[*RESERVED_ATTRS, "color_message"])


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """Django's LOGGING for ``LOG_FORMAT`` and ``LOG_LEVEL``: one handler on stderr, used by every logger."""
    if log_format not in FORMATS:
        # Raised as ValueError: this module stays free of Django; settings turns it into a start-up error.
        raise ValueError(f"LOG_FORMAT={log_format!r} is not one of {', '.join(FORMATS)}.")
    formatter = {"()": json_formatter} if log_format == "json" else {"()": PlainFormatter}
    # uvicorn configures its loggers with handlers of its own before it imports the application; naming them here
    # takes those handlers off (dictConfig replaces a named logger's handlers), so its lines reach ours instead.
    routed = {"level": level.upper(), "handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"job_id": {"()": JobIdFilter}},
        "formatters": {"portal": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "portal", "filters": ["job_id"]}},
        "root": {"handlers": ["console"], "level": level.upper()},
        "loggers": {"uvicorn": routed, "uvicorn.error": routed, "uvicorn.access": routed},
    }


def configure_celery_logging(**_kwargs: object) -> None:
    """Celery's ``setup_logging`` signal: apply the portal's LOGGING instead of Celery's own root handler.

    Celery beat never sets Django up, so Django alone would not apply it there.
    """
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
