"""A fabric of the fabric tests' own: they install extensions, stop VMs and make VMs vanish,
which the shared ``lab_fabric`` must not see."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.fixtures.fabric import LabFabric, start_lab_fabric, stop_lab_fabric


@pytest.fixture(scope="session")
def own_fabric() -> Iterator[LabFabric]:
    fabric = start_lab_fabric(Path(settings.VAR_DIR) / "fabric-tests", log_name="fabric-tests.log",
                              extra_args=("--op-delay", "0.1", "--agent-delay", "0.1"))
    try:
        yield fabric
    finally:
        stop_lab_fabric(fabric)


@pytest.fixture
def faults(own_fabric: LabFabric):
    yield own_fabric.set_faults
    own_fabric.clear_faults()


@pytest.fixture
def sms(own_fabric: LabFabric):
    return own_fabric.sms()
