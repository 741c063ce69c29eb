"""Signals other apps may listen to without the jobs app knowing them.

``job_ended`` is sent once a job has reached an end (Completed, Completed With Warnings, Failed, Cancelled), by the
runner or by the reconciler, after the change is committed. Receivers get ``job`` (the Job row) and must be quick:
they run in the worker that ran the job (send work to a task of their own).
"""

from __future__ import annotations

from django.dispatch import Signal

job_ended = Signal()
