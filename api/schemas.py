"""What the API reads and answers: request bodies, resources, and how a row becomes a resource.

Resources carry the ids a client needs for the next call and a ``url`` of themselves; times are ISO 8601 in UTC.
Policies are given in their stored form (``vaults.policy.stored``): schedule times in UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Field, Path, Schema

API = "/api/v1"
MAX_ID = 2**63 - 1  # the database's largest id: a larger number is refused as invalid, not looked up

Id = Annotated[int, Path(ge=1, le=MAX_ID)]

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class JobAccepted(Schema):
    """A job was started (202): poll ``url`` (also in the Location header) until ``status`` is terminal."""

    id: int
    operation: str
    status: str
    url: str
    item: int | None = Field(None, description="the registered or protected item the job concerns, when it made one")


class Subscription(Schema):
    id: int
    name: str
    subscription_id: str
    url: str


class Vault(Schema):
    id: int
    name: str
    subscription: int
    region: str
    status: str
    replication: Literal["grs", "lrs"]
    soft_delete_enabled: bool
    soft_delete_days: int
    soft_delete_always_on: bool
    immutability: str
    encrypted: bool
    storage_used: int
    created: datetime
    url: str


class VaultCreate(Schema):
    name: str = Field(..., max_length=100)
    region: str = Field(..., max_length=100)
    subscription: int | None = Field(None, ge=1, le=MAX_ID,
                                     description="the subscription's id; may be left out when you have one")
    replication: Literal["grs", "lrs"] = "grs"


class SoftDeleteSettings(Schema):
    enabled: bool
    days: int = Field(..., ge=0, le=10000)
    always_on: bool = False


class ImmutabilitySettings(Schema):
    state: Literal["disabled", "enabled", "locked"]
    confirm_lock: bool = Field(False, description="locking cannot be undone: true to say you know")


class VaultConfigure(Schema):
    """CONFIGURE: any of the sections; each is saved by the same service the page's SAVE calls."""

    replication: Literal["grs", "lrs"] | None = None
    soft_delete: SoftDeleteSettings | None = None
    immutability: ImmutabilitySettings | None = None


class VirtualMachine(Schema):
    id: int
    name: str
    cloud_service: str
    region: str
    power_state: str
    has_agent: bool


class RegisteredItem(Schema):
    id: int
    vm: VirtualMachine
    status: str
    error_code: str
    error_message: str
    recommendation: str
    protected_item: int | None
    created: datetime
    url: str


class Register(Schema):
    vm: int = Field(..., ge=1, le=MAX_ID, description="a discovered virtual machine's id (GET .../discovered-vms)")


class Protect(Schema):
    registered_item: int = Field(..., ge=1, le=MAX_ID)
    policy: int = Field(..., ge=1, le=MAX_ID)


class ProtectedItem(Schema):
    id: int
    registered_item: int
    vm: VirtualMachine
    status: str
    status_label: str
    policy: int | None
    last_backup_status: str
    last_backup_time: datetime | None
    error_message: str
    recovery_points: int
    purge_after: datetime | None
    url: str


class StopProtection(Schema):
    delete_data: bool = False
    reason: str = Field("", max_length=100)
    comment: str = Field("", max_length=1000)


class Restore(Schema):
    recovery_point: int | None = Field(None, ge=1, le=MAX_ID, description="the point to restore; the newest when left out")
    vm_name: str = Field(..., max_length=100)
    cloud_service: str = Field(..., max_length=100)
    new_cloud_service: bool = False
    storage_account: str = Field(..., max_length=100)
    virtual_network: str = Field("", max_length=100)
    subnet: str = Field("", max_length=100)


class RecoveryPoint(Schema):
    id: int
    created: datetime
    consistency: str
    adhoc: bool
    expires: datetime | None
    logical_bytes: int
    stored_bytes: int
    disks: list[dict[str, Any]]


class Schedule(Schema):
    frequency: Literal["daily", "weekly"]
    times: list[str] = Field(..., max_length=4, description="HH:MM in UTC, on a 30-minute boundary")
    weekdays: list[Weekday] = Field(default_factory=list, max_length=7)


class DayChoice(Schema):
    day: int | Literal["last"] | None = None
    week: Literal["first", "second", "third", "fourth", "last"] | None = None
    weekdays: list[Weekday] | None = Field(None, max_length=7)


class RetentionRange(Schema):
    kind: Literal["daily", "weekly", "monthly", "yearly"]
    count: int = Field(..., ge=0, le=10000)
    weekdays: list[Weekday] | None = Field(None, max_length=7)
    months: list[int] | None = Field(None, max_length=12)
    on: DayChoice | None = None


class PolicyIn(Schema):
    name: str = Field(..., max_length=200)
    schedule: Schedule
    retention: list[RetentionRange] = Field(..., max_length=4)


class Policy(Schema):
    id: int
    name: str
    schedule: dict[str, Any]
    retention: list[dict[str, Any]]
    protected_items: int
    url: str


class PolicySaved(Schema):
    policy: Policy
    reconfiguring: int = Field(..., description="Configure Protection jobs started for the VMs under the policy")
    notes: list[str]


class SubTask(Schema):
    name: str
    status: str
    started: datetime
    finished: datetime | None


class Job(Schema):
    id: int
    operation: str
    operation_label: str
    status: str
    status_label: str
    subscription: int
    vault: int | None
    item_type: str
    item_name: str
    requested_by: str | None
    created: datetime
    started: datetime | None
    finished: datetime | None
    duration_seconds: float | None
    progress: int
    cancellable: bool
    error_code: str
    error_message: str
    recommendations: list[str]
    properties: dict[str, Any]
    subtasks: list[SubTask] | None = None
    url: str


class LogEntry(Schema):
    id: int
    created: datetime
    username: str
    operation: str
    operation_label: str
    subscription: int | None
    vault: int | None
    item_type: str
    item_name: str
    job: int | None
    details: dict[str, Any]


def page_of(item: type[Schema]) -> type[Schema]:
    """The list answer for ``item``: one page and the link to the next (null on the last page)."""
    return type(f"{item.__name__}Page", (Schema,), {
        "__annotations__": {"items": list[item], "next": str | None},
        "next": Field(None, description="the next page's URL, or null on the last page"),
    })
