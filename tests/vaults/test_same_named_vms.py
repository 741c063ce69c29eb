"""Two VMs named web01 in different cloud services (the lab seed has contoso-web/web01 and tailspin-web/web01):
every place that names an item by itself (the Jobs table and details, the strip's sentence, refusals, the
operations log) says which one, "web01 (contoso-web)", and the Jobs search still finds them by VM name."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jobs import live
from jobs.models import Job, Operation, OperationLogEntry
from tests.fixtures.vaults import run_job
from tests.protection.helpers import discovered

pytestmark = pytest.mark.django_db

SERVICES = ("contoso-web", "tailspin-web")


def test_same_named_vms_are_told_apart_by_cloud_service(client, member, vault):
    vms = [discovered(member, vault, "web01", service) for service in SERVICES]
    client.force_login(member)
    client.post(reverse("vaults:register", args=[vault.pk]), {"vm": [vm.pk for vm in vms]}, HTTP_HX_REQUEST="true")

    jobs = {job.item_key: job for job in Job.objects.filter(operation=Operation.REGISTER)}
    contoso, tailspin = (jobs[f"vm:{vm.pk}"] for vm in vms)
    assert (contoso.item_name, tailspin.item_name) == ("web01 (contoso-web)", "web01 (tailspin-web)")
    # The strip's sentence, as the event stream carries it.
    assert live.payload(contoso)["text"] == "Registering 'web01 (contoso-web)'…"
    # The operations log.
    assert sorted(OperationLogEntry.objects.filter(operation=Operation.REGISTER).values_list("item_name", flat=True)) \
        == ["web01 (contoso-web)", "web01 (tailspin-web)"]

    # The Jobs table: both rows say which VM; searching by the VM's name finds both, by cloud service one.
    listed = client.get(reverse("jobs:list"), {"item": "web01"}).content.decode()
    assert "web01 (contoso-web)</a>" in listed and "web01 (tailspin-web)</a>" in listed
    narrowed = client.get(reverse("jobs:list"), {"item": "tailspin"}).content.decode()
    # (the strip's notes of running jobs are on every page: the rows are the links)
    assert "web01 (tailspin-web)</a>" in narrowed and "web01 (contoso-web)</a>" not in narrowed

    # A refusal naming the item.
    again = client.post(reverse("vaults:register", args=[vault.pk]), {"vm": [vms[1].pk]}, HTTP_HX_REQUEST="true")
    assert "web01 (tailspin-web)" in again.headers.get("HX-Trigger", "") + again.content.decode()

    # The job's details, and its sentence once it ended.
    contoso = run_job(contoso)
    details = client.get(reverse("jobs:detail", args=[contoso.pk])).content.decode()
    assert "web01 (contoso-web)" in details
    assert live.sentence(contoso).startswith("Registration of 'web01 (contoso-web)' ")
