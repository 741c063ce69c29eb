"""How fast a job moves its bytes and how long it has left: a smoothed rate, the time left, the phase it is in.

A job that moves bytes (Backup, Restore, Verify, Replicate) reports each progress callback of the engine to a
``Meter``: bytes done out of bytes to do. The meter keeps an exponentially weighted rate over the samples, so
one slow request does not swing the figure, and derives the time left as remaining bytes / rate. Its state is
kept in the job's properties under ``KEY`` (saved and published with the progress, read by the strip and the
Details dialog through ``figures``) rather than in columns of its own: it is a transient figure of a running
job, plus, once the job is done, the bytes it moved and its average rate (the dashboard's per-item chart reads
them). While the rate is not yet known (the first second of samples) nothing is shown rather than a guess.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from jobs.models import Job
from portal.units import human_rate, human_time_left

KEY = "_throughput"  # a private property: the Details dialog lists the others, not this one
HALF_LIFE = 3.0  # seconds after which a sample weighs half as much as a new one
WARMUP = 1.0  # seconds of samples before a rate is trusted
MIN_STEP = 0.2  # samples closer than this are folded into the next step (callbacks come in bursts)


class Progress(Protocol):
    """What a meter reports to: ``jobs.runner.JobContext`` (named by its shape, so the runner may use this module)."""

    job: Job

    def progress(self, percent: float, **properties: Any) -> None: ...

    def set_property(self, name: str, value: Any) -> None: ...


def eta_seconds(remaining: float, rate: float | None) -> float | None:
    """Seconds left at ``rate`` (units per second); None while the rate is unknown or nothing moves."""
    if rate is None or rate <= 0 or not math.isfinite(rate):
        return None
    return max(0.0, remaining) / rate


@dataclass
class Rate:
    """An exponentially weighted rate of a growing total, in units per second.

    Each step's instant rate (units moved / seconds taken) pulls the smoothed value towards it by
    ``1 - 0.5 ** (dt / half_life)``: the weight depends on the time a step took, not on how many callbacks
    came, so a burst of small callbacks counts as much as one large one.
    """

    half_life: float = HALF_LIFE
    warmup: float = WARMUP
    value: float | None = None
    _first: float | None = field(default=None, repr=False)
    _at: float = field(default=0.0, repr=False)
    _done: float = field(default=0.0, repr=False)

    def add(self, done: float, now: float) -> float | None:
        """A sample of the running total ``done`` at time ``now``; the rate once known, else None."""
        if self._first is None:
            self._first, self._at, self._done = now, now, done
            return None
        step = now - self._at
        if step < MIN_STEP:
            return self.known
        instant = max(0.0, done - self._done) / step
        weight = 1 - 0.5 ** (step / self.half_life)
        self.value = instant if self.value is None else self.value + weight * (instant - self.value)
        self._at, self._done = now, max(done, self._done)
        return self.known

    @property
    def known(self) -> float | None:
        """The rate once ``warmup`` seconds of samples are in, else None."""
        if self.value is None or self._first is None or self._at - self._first < self.warmup:
            return None
        return self.value


class Meter:
    """The bytes a running job moves: ``update`` at each progress callback, ``finish`` once all moved.

    One meter spans every phase of a job that moves bytes (a restore writes the disks, then reads them back to
    prove them): ``total`` is the bytes of all phases, so the percent and the time left move evenly across them.
    """

    def __init__(self, ctx: Progress, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ctx, self.clock = ctx, clock
        self.rate = Rate()
        self.phase = ""
        self.started = clock()

    def enter(self, phase: str) -> None:
        """Name the phase shown in the job's details ("Writing disks")."""
        self.phase = phase
        state = dict(self.ctx.job.properties.get(KEY) or {})
        self.ctx.set_property(KEY, {**state, "phase": phase})

    def update(self, done: int, total: int, percent: float, **properties: Any) -> None:
        """``done`` of ``total`` bytes moved; the job's progress becomes ``percent``, with ``properties``."""
        done, total = max(0, int(done)), max(0, int(total))
        rate = self.rate.add(done, self.clock())
        state = {"phase": self.phase, "done": done, "total": total, "rate": rate,
                 "eta": eta_seconds(total - done, rate)}
        self.ctx.progress(percent, **{KEY: state}, **properties)

    def finish(self, done: int | None = None) -> None:
        """All moved: keep the bytes and the average rate of the whole job; no time left, no phase."""
        state = dict(self.ctx.job.properties.get(KEY) or {})
        moved = int(state.get("done", 0) if done is None else done)
        elapsed = self.clock() - self.started
        self.ctx.set_property(KEY, {"done": moved, "total": moved, "rate": moved / elapsed if elapsed > 0 else None,
                                    "eta": None, "phase": "", "finished": True})


def figures(properties: Mapping[str, Any], *, active: bool) -> dict[str, str]:
    """What the strip and the Details dialog show: ``rate`` ("112.4 MB/s"), ``eta`` ("about 2 min left") and
    ``phase``, each only when known; a job that ended shows its average rate only."""
    state = properties.get(KEY)
    if not isinstance(state, Mapping) or (active and state.get("finished")):
        return {}  # a running job past its transfer (creating the VM, publishing) has no rate to show
    shown: dict[str, str] = {}
    rate = state.get("rate")
    if isinstance(rate, int | float) and rate > 0:
        shown["rate"] = human_rate(rate)
    if active:
        if isinstance(state.get("eta"), int | float) and "rate" in shown:
            shown["eta"] = human_time_left(state["eta"])
        if state.get("phase"):
            shown["phase"] = str(state["phase"])
    return shown


def bytes_moved(properties: Mapping[str, Any]) -> int | None:
    """The bytes a finished job moved, as its meter recorded them; None for a job without one."""
    state = properties.get(KEY)
    if isinstance(state, Mapping) and isinstance(state.get("done"), int):
        return state["done"]
    return None


def public(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The properties a person reads (the Details dialog, ``manage.py`` output): without the private ones."""
    return {name: value for name, value in properties.items() if not name.startswith("_")}
