"""The certificate path of a real subscription: HTTPS that requires the management certificate."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings

from tests.fixtures.fabric import LabFabric, start_lab_fabric, stop_lab_fabric

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def https_fabric() -> Iterator[LabFabric]:
    fabric = start_lab_fabric(Path(settings.VAR_DIR) / "fabric-https", https=True, log_name="fabric-https.log")
    try:
        yield fabric
    finally:
        stop_lab_fabric(fabric)


def test_sdk_connects_with_the_management_certificate(https_fabric):
    sms = https_fabric.sms()
    assert "contoso-web" in {service.service_name for service in sms.list_hosted_services()}
    assert sms.get_role("contoso-web", "contoso-web", "web01").os_virtual_hard_disk.media_link.startswith("https://")


def test_connection_without_a_client_certificate_is_refused(https_fabric):
    session = requests.Session()
    session.trust_env = False
    session.verify = str(https_fabric.state_dir / "certs" / "ca.pem")
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(f"{https_fabric.base_url}/{https_fabric.subscription_id}/locations",
                    headers={"x-ms-version": "2014-10-01"}, timeout=5)


def test_certificate_files_are_private(https_fabric):
    certs = https_fabric.state_dir / "certs"
    for name in ("ca.key", "server.key", "management.pem"):
        assert stat.S_IMODE((certs / name).stat().st_mode) == 0o600
