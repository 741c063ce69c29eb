"""Two job workers sharing the data queue, as on two hosts, with one control worker and beat, on PostgreSQL.

Workers a and b run the ``worker`` process (``manage.py job_worker``) with WORKER_NAME a and b and WORKER_QUEUES
data; the control worker and beat run as ``make run`` starts them. The database is a throwaway PostgreSQL one
(``portal_on_postgres``), whatever the rest of the suite runs on. Shown: jobs spread across both workers (Job.worker
says which ran each), one operation per item holds when two requests race, and a worker killed mid-job has its job
failed by the reconciler, cleaned up, while the other worker takes the next backup.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from celery import Celery
from django.db import connections

from jobs.errors import OperationInProgress
from jobs.models import Job, Operation, Status
from portal.access import Role
from tests.conftest import make_user, process_env, start_process, wait_for
from tests.faults.helpers import children, finished, leftovers, whole, writing_to
from tests.faults.test_killed_workers import FAIL_WITHIN, _churn, _failed_by_the_reconciler, _mid_transfer
from tests.fixtures.vaults import quick_vault
from vaults.models import ProtectedItem, RegisteredItem, Subscription, Vault, VirtualMachine
from vaults.operations.backup import Backup
from vaults.operations.discovery import Discovery
from vaults.operations.protection import ConfigureProtection
from vaults.operations.registration import Register
from vaults.policy.defaults import DEFAULT_POLICY_NAME
from vaults.services.storage import open_store

pytestmark = pytest.mark.integration

QUEUE = f"deploy-{os.getpid()}"  # this module's data queue; its control queue is QUEUE-control
WORKERS = ("a", "b")
SMALL = [("scale-0000", f"vm0{n}") for n in range(6)]
BIG = ("tailspin-web", "web01")


def celery_name(name: str) -> str:
    return f"{name}-{os.getpid()}"


@pytest.fixture(scope="module")
def this_queue() -> Iterator[None]:
    """Jobs this process starts go to QUEUE, the data queue of the workers started here (and of no other worker)."""
    from portal.celery import app

    before = app.conf.task_default_queue
    app.conf.task_default_queue = QUEUE
    yield
    app.conf.task_default_queue = before


@pytest.fixture(scope="module")
def broker(redis_url) -> Iterator[Celery]:
    app = Celery(broker=redis_url, set_as_current=False)
    yield app
    app.close()


class Workers(dict):
    """The worker processes by name; ``ensure()`` starts again any that is not running and waits for all."""

    def __init__(self, redis_url: str, broker: Celery) -> None:
        super().__init__()
        self.redis_url, self.broker = redis_url, broker

    def start(self, name: str) -> None:
        env = process_env(self.redis_url, CELERY_QUEUE=QUEUE, WORKER_NAME=celery_name(name), WORKER_QUEUES="data")
        self[name] = start_process([sys.executable, "manage.py", "job_worker"], env, f"deploy-worker-{name}.log")

    def ready(self, name: str) -> bool:
        return any(host.startswith(f"{celery_name(name)}@") for reply in self.broker.control.ping(timeout=0.5) or []
                   for host in reply)

    def ensure(self) -> None:
        for name in WORKERS:
            if name not in self or self[name].poll() is not None:
                self.start(name)
        for name in WORKERS:
            wait_for(lambda name=name: self.ready(name), what=f"worker {name}", timeout=60, process=self[name])


@pytest.fixture(scope="module")
def workers(portal_on_postgres, redis_url, broker) -> Iterator[Workers]:
    """Workers a and b: `manage.py job_worker` on the data queue, each as a host of its own would run it."""
    running = Workers(redis_url, broker)
    running.ensure()
    try:
        yield running
    finally:
        for process in running.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


@pytest.fixture
def both_workers(workers) -> Workers:
    """Both workers running (a test before may have killed one)."""
    workers.ensure()
    return workers


@pytest.fixture(scope="module")
def lab(portal_on_postgres, fault_fabric, this_queue, workers) -> Iterator[dict]:
    """An administrator and an operator of a subscription on the fault fabric, a vault, and VMs protected the way
    a person does it: QUICK CREATE, DISCOVER, REGISTER the VMs selected together, PROTECT them together."""
    owner, member = make_user("deploy-owner", Role.ADMINISTRATOR), make_user("deploy-member", Role.OPERATOR)
    subscription = Subscription.objects.create(name="Lab subscription", subscription_id=fault_fabric.subscription_id,
                                               host=fault_fabric.host)
    subscription.members.add(owner, member)
    vault = quick_vault(owner, subscription, "deploy", "East US", Vault.Replication.LRS)
    try:
        assert finished(Discovery.start(member, vault), 120).status == Status.COMPLETED
        vms = [VirtualMachine.objects.get(subscription=subscription, cloud_service=service, name=name)
               for service, name in [*SMALL, BIG]]
        outcomes = Register.start_many(member, vault, [vm.pk for vm in vms])
        assert [outcome.refusal for outcome in outcomes] == [""] * len(vms)
        for job in Job.objects.filter(operation=Operation.REGISTER):
            assert finished(job, 120).status == Status.COMPLETED, job.error_message
        registered = [RegisteredItem.objects.get(vm=vm).pk for vm in vms]
        started, refusals = ConfigureProtection.protect(member, vault, registered,
                                                        vault.policies.get(name=DEFAULT_POLICY_NAME))
        assert (started, refusals) == (len(vms), [])
        for job in Job.objects.filter(operation=Operation.CONFIGURE_PROTECTION):
            assert finished(job, 120).status == Status.COMPLETED, job.error_message
        items = {item.item.vm.name: item for item in
                 ProtectedItem.objects.select_related("item__vm", "vault__subscription").filter(vault=vault)}
        yield {"owner": owner, "member": member, "subscription": subscription, "vault": vault, "items": items}
    finally:
        shutil.rmtree(vault.store_path, ignore_errors=True)


def test_each_worker_consumes_the_data_queue_only_and_jobs_spread_across_both(lab, both_workers, broker):
    queues = broker.control.inspect(timeout=2).active_queues() or {}
    consumed = {host.split("@")[0]: sorted(queue["name"] for queue in found) for host, found in queues.items()}
    for name in WORKERS:
        assert consumed[celery_name(name)] == [QUEUE]

    member = lab["member"]
    jobs = [Backup.start(member, lab["items"][name]) for _service, name in SMALL]  # BACKUP NOW on six items
    ended = [finished(job, 180) for job in jobs]
    assert [job.status for job in ended] == [Status.COMPLETED] * len(SMALL), [job.error_message for job in ended]
    ran_on = {job.worker.split("@")[0] for job in ended}
    print(f"\nbackups per worker: { {name: sum(job.worker.startswith(name) for job in ended) for name in ran_on} }")
    assert ran_on == {celery_name(name) for name in WORKERS}


def test_two_backup_now_on_one_item_at_once_start_one_job(lab, both_workers):
    """Two requests at the same moment, as from two web processes: PostgreSQL's partial unique index lets one in."""
    item = lab["items"][SMALL[0][1]]
    points = item.recovery_points.count()
    gate, outcomes = threading.Barrier(2), []

    def click() -> None:
        try:
            gate.wait()
            outcomes.append(Backup.start(lab["member"], ProtectedItem.objects.get(pk=item.pk)))
        except OperationInProgress as refusal:
            outcomes.append(refusal)
        finally:
            connections.close_all()

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join(30)
    [job] = [outcome for outcome in outcomes if isinstance(outcome, Job)]
    [refusal] = [outcome for outcome in outcomes if isinstance(outcome, OperationInProgress)]
    assert str(refusal) == "Another operation is in progress on this item"
    assert finished(job, 120).status == Status.COMPLETED
    assert Job.objects.filter(item_key=job.item_key, operation=Operation.BACKUP, created__gte=job.created).count() == 1
    assert item.recovery_points.count() == points + 1


def test_a_worker_killed_mid_backup_has_its_job_failed_by_the_reconciler_and_the_other_takes_over(
        lab, both_workers, control_plane_on, fault_fabric):
    control_plane_on(queue=QUEUE)
    member, item = lab["member"], lab["items"][BIG[1]]
    assert finished(Backup.start(member, item), 180).status == Status.COMPLETED
    points = set(open_store(lab["vault"]).point_ids())
    _churn(lab["subscription"], item)
    fault_fabric.set_faults(latency_ms=200)
    try:
        job = Backup.start(member, item)
        _mid_transfer(job)
        job.refresh_from_db()
        [victim] = [name for name in WORKERS if job.worker.startswith(f"{celery_name(name)}@")]
        [survivor] = [name for name in WORKERS if name != victim]
        process = both_workers[victim]
        assert writing_to(children(process.pid), lab["vault"].store_path), "the job is not transferring on its worker"
        os.killpg(process.pid, signal.SIGKILL)
        killed = time.monotonic()
        process.wait(10)
    finally:
        fault_fabric.clear_faults()
    took = _failed_by_the_reconciler(job, killed)
    print(f"\nkill -9 of worker {victim} to Failed: {took:.1f} s")
    assert took < FAIL_WITHIN

    wait_for(lambda: ProtectedItem.objects.get(pk=item.pk).status == ProtectedItem.Status.ERROR,
             what="the item to show the failure", timeout=10)
    store = open_store(lab["vault"])
    assert set(store.point_ids()) == points  # no point of the killed job
    assert leftovers(store) == []
    assert whole(store, ProtectedItem.objects.get(pk=item.pk))

    assert both_workers[survivor].poll() is None
    again = finished(Backup.start(member, ProtectedItem.objects.get(pk=item.pk)), 180)
    assert again.status == Status.COMPLETED, again.error_message
    assert again.worker.startswith(f"{celery_name(survivor)}@")
