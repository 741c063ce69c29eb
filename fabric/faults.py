"""Faults a test can switch on and off while the fabric runs (``POST /_fabric/faults``).

The document is plain JSON, merged into the current faults:

    {"latency_ms": 200,              # added to every API answer
     "error_rate": 0.25,             # share of API answers replaced by a 5xx
     "error_next": 3,                # the next N API answers are 5xx
     "error_status": 503,            # which 5xx (500 or 503; default 503)
     "error_scope": "all",           # "compute", "blob" or "all"
     "agent_unresponsive": ["svc/vm"],   # the VM agent stops answering: extension status never updates
     "snapshot_hang": ["svc/vm"]}        # a snapshot request stays "transitioning" for ever

``"*"`` in the VM lists means every VM. ``DELETE /_fabric/faults`` clears
everything. A VM that disappears is not a switch but an act:
``POST /_fabric/vanish {"vm": "svc/vm"}`` removes it for good.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field


@dataclass
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0
    error_next: int = 0
    error_status: int = 503
    error_scope: str = "all"
    agent_unresponsive: list[str] = field(default_factory=list)
    snapshot_hang: list[str] = field(default_factory=list)

    def update(self, changes: dict) -> None:
        for key, value in changes.items():
            if key not in self.__dataclass_fields__:
                raise ValueError(f"unknown fault {key!r}")
            current = getattr(self, key)
            if isinstance(current, list):
                value = [str(item) for item in (value or [])]
            elif isinstance(current, bool | int | float | str):
                value = type(current)(value)
            setattr(self, key, value)
        if self.error_status not in (500, 502, 503, 504):
            raise ValueError("error_status must be a 5xx status")
        if self.error_scope not in ("all", "compute", "blob"):
            raise ValueError("error_scope must be all, compute or blob")

    def as_dict(self) -> dict:
        return asdict(self)

    def affects(self, kind: str, vm: str) -> bool:
        names = getattr(self, kind)
        return "*" in names or vm in names

    def should_fail(self, scope: str) -> bool:
        """Whether this API answer becomes a 5xx; consumes one of ``error_next``."""
        if self.error_scope not in ("all", scope):
            return False
        if self.error_next > 0:
            self.error_next -= 1
            return True
        return self.error_rate > 0 and random.random() < self.error_rate
