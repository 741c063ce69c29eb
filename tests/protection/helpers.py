"""Rows for protection tests: VMs registered with a vault, protected under a policy."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone

from vaults.models import Policy, ProtectedItem, RegisteredItem, VirtualMachine
from vaults.policy import rules


def make_policy(vault, name="Nightly", definition: rules.Policy | None = None) -> Policy:
    definition = definition or rules.Policy(name, rules.Schedule.daily(rules.time(3, 0)), (rules.DailyRetention(30),))
    return Policy.objects.create(vault=vault, name=name, definition=rules.policy_to_dict(definition))


def registered(vault, name: str, service: str = "svc-a") -> RegisteredItem:
    vm = VirtualMachine.objects.create(subscription=vault.subscription, cloud_service=service, name=name,
                                       deployment=service, region=vault.region, last_seen=timezone.now(),
                                       power_state="Started", agent_status="Ready", has_agent=True)
    return RegisteredItem.objects.create(vault=vault, vm=vm, status=RegisteredItem.Status.REGISTERED)


def protected(vault, policy: Policy, name: str, service: str = "svc-a",
              configured: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> ProtectedItem:
    return ProtectedItem.objects.create(item=registered(vault, name, service), vault=vault, policy=policy,
                                        configured=configured)
