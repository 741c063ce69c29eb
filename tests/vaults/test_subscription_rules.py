"""What may be connected as a subscription, and who may test a connection.

Every refusal is a sentence on the field it concerns, and nothing is saved: no row, no certificate file.
"""

from __future__ import annotations

import io
import socket

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from django.urls import reverse

from tests.fixtures.certificates import key_and_certificate, key_pem, management_pem
from vaults.models import Subscription
from vaults.services import subscriptions as services
from vaults.services.refusals import InvalidRequest

pytestmark = pytest.mark.django_db

GUID = "3f2b9c1e-7a4d-4e8f-b1c2-9d0e5f6a7b8c"


@pytest.fixture
def certificate_dir(settings, tmp_path):
    settings.CERTIFICATE_DIR = tmp_path / "certs"
    return settings.CERTIFICATE_DIR


def post(client, **fields):
    data = {"name": "Prod", "subscription_id": GUID, "host": "management.example.net", "protocol": "https",
            "certificate": management_pem(), "ca_certificate": "", **fields}
    return client.post(reverse("vaults:subscriptions"), data)


def refused_on(response, field: str) -> str:
    """The one sentence the form shows, on ``field``."""
    errors = response.context["form"].errors
    assert list(errors) == [field], errors
    [sentence] = errors[field]
    return sentence


@pytest.fixture
def nothing_saved(subscription, certificate_dir):
    before = set(Subscription.objects.values_list("pk", flat=True))
    yield
    assert set(Subscription.objects.values_list("pk", flat=True)) == before
    assert not certificate_dir.exists() or not any(certificate_dir.iterdir())


def test_a_subscription_id_that_is_a_path_is_refused(client, owner, nothing_saved):
    client.force_login(owner)
    sentence = refused_on(post(client, subscription_id="../../../../tmp/x"), "subscription_id")
    assert sentence.startswith("The subscription ID must be a GUID")


def test_a_guid_is_kept_lowercase_and_the_certificate_privately(client, owner, certificate_dir):
    client.force_login(owner)
    response = post(client, subscription_id=GUID.upper())
    assert response.status_code == 302
    subscription = Subscription.objects.get(subscription_id=GUID)
    assert owner in subscription.members.all()
    assert (certificate_dir / f"{subscription.pk}-management.pem").stat().st_mode & 0o777 == 0o600


def test_the_same_guid_in_capitals_is_already_connected(client, owner, nothing_saved):
    client.force_login(owner)
    sentence = refused_on(post(client, subscription_id="00000000-0000-0000-0000-00000000000A"), "subscription_id")
    assert sentence == "A subscription with this id is already connected."


@pytest.mark.parametrize(("certificate", "says"), [
    ("not a pem", "The management certificate is not a PEM certificate"),
    ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "The management certificate is not a PEM"),
])
def test_a_certificate_that_does_not_parse_is_refused(client, owner, nothing_saved, certificate, says):
    client.force_login(owner)
    assert refused_on(post(client, certificate=certificate), "certificate").startswith(says)


def test_a_certificate_without_its_key_is_refused(client, owner, nothing_saved):
    client.force_login(owner)
    _key, certificate = key_and_certificate()
    sentence = refused_on(post(client, certificate=certificate.decode()), "certificate")
    assert sentence.startswith("The management certificate has no private key")


def test_a_key_of_another_certificate_is_refused(client, owner, nothing_saved):
    client.force_login(owner)
    _key, certificate = key_and_certificate()
    other_key, _other = key_and_certificate("other")
    sentence = refused_on(post(client, certificate=(certificate + key_pem(other_key)).decode()), "certificate")
    assert sentence.startswith("The private key does not belong to the management certificate")


def test_a_password_protected_key_is_refused(client, owner, nothing_saved):
    client.force_login(owner)
    key, certificate = key_and_certificate()
    locked = key_pem(key, serialization.BestAvailableEncryption(b"secret"))
    sentence = refused_on(post(client, certificate=(certificate + locked).decode()), "certificate")
    assert sentence.startswith("The private key is protected by a password")


def test_a_ca_certificate_that_does_not_parse_is_refused(client, owner, nothing_saved):
    client.force_login(owner)
    sentence = refused_on(post(client, ca_certificate="not a pem"), "ca_certificate")
    assert sentence.startswith("The CA certificate is not a PEM certificate")


@pytest.mark.parametrize("host", ["169.254.169.254:80", "127.0.0.1:6379", "10.0.0.5:8100", "management.example.net",
                                  "127.0.0.1"])
def test_plain_http_anywhere_but_the_lab_fabric_is_refused(client, owner, nothing_saved, host):
    client.force_login(owner)
    sentence = refused_on(post(client, host=host, protocol="http", certificate=""), "host")
    assert sentence.startswith(("Plain HTTP is only for the lab fabric", "The endpoint is on a link-local address"))


def test_the_metadata_address_over_http_is_refused_as_such(client, owner, nothing_saved):
    client.force_login(owner)
    sentence = refused_on(post(client, host="169.254.169.254:80", protocol="http", certificate=""), "host")
    assert sentence.startswith("The endpoint is on a link-local address")


@pytest.mark.parametrize("host", ["169.254.169.254", "169.254.1.1:443", "[fe80::1]:443", "[fd00:ec2::254]",
                                  "[::ffff:169.254.169.254]:443"])
def test_link_local_and_metadata_addresses_are_refused_over_https_too(client, owner, nothing_saved, host):
    client.force_login(owner)
    assert refused_on(post(client, host=host), "host").startswith("The endpoint is on a link-local address")


def test_a_name_that_resolves_to_the_metadata_address_is_refused(client, owner, nothing_saved, monkeypatch):
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == "metadata.internal.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    client.force_login(owner)
    sentence = refused_on(post(client, host="metadata.internal.example:443"), "host")
    assert "metadata.internal.example resolves to 169.254.169.254" in sentence


@pytest.mark.parametrize("host", ["https://management.example.net", "management.example.net/path", "user@host:443",
                                  "host:99999", "host name", ""])
def test_a_host_that_is_not_host_and_port_is_refused(owner, subscription, certificate_dir, host):
    with pytest.raises(InvalidRequest) as refused:
        services.add_subscription(owner, name="X", subscription_id=GUID, host=host, protocol="https",
                                  certificate_pem=management_pem())
    assert refused.value.field == "host" and str(refused.value).startswith("Give the endpoint as host or host:port")
    assert not Subscription.objects.filter(subscription_id=GUID).exists()


def test_plain_http_to_the_lab_fabric_port_on_loopback_is_accepted(client, owner, settings, certificate_dir):
    client.force_login(owner)
    for number, host in enumerate([f"127.0.0.1:{settings.FABRIC_PORT}", f"localhost:{settings.FABRIC_PORT}",
                                   f"[::1]:{settings.FABRIC_PORT}"]):
        guid = f"3f2b9c1e-7a4d-4e8f-b1c2-9d0e5f6a7b8{number}"
        assert post(client, subscription_id=guid, host=host, protocol="http", certificate="").status_code == 302, host
        assert Subscription.objects.get(subscription_id=guid).host == host


def test_the_lab_subscription_make_run_creates_passes_the_same_rules(db, django_user_model, settings):
    django_user_model.objects.create_user("admin")
    call_command("ensure_lab_subscription", "--member", "admin", stdout=io.StringIO())
    lab = Subscription.objects.get(subscription_id=settings.LAB_SUBSCRIPTION_ID)
    kept = services.check_endpoint(subscription_id=lab.subscription_id, host=lab.host, protocol=lab.protocol)
    assert kept == lab.subscription_id


# --- The connection test -----------------------------------------------------------------------------------

@pytest.mark.parametrize("persona", ["reader", "member"])
def test_only_an_administrator_may_test_a_connection(client, request, subscription, monkeypatch, persona):
    monkeypatch.setattr(services, "list_regions", lambda endpoint: pytest.fail("the endpoint was called"))
    client.force_login(request.getfixturevalue(persona))
    url = reverse("vaults:subscription_test", args=[subscription.pk])
    response = client.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 403
    assert "Only Backup Administrators can test a subscription&#x27;s connection." in response.content.decode()
    page = client.post(url, follow=True).content.decode()
    assert "Only Backup Administrators can test a subscription&#x27;s connection." in page
    assert "Test connection" not in page  # the button is not offered


def test_an_administrator_tests_a_connection(client, owner, subscription, vm_lab):
    subscription.subscription_id, subscription.host = vm_lab.subscription_id, vm_lab.host
    subscription.save()
    client.force_login(owner)
    assert "Test connection" in client.get(reverse("vaults:subscriptions")).content.decode()
    response = client.post(reverse("vaults:subscription_test", args=[subscription.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert f"Connected to {vm_lab.host}: 3 regions" in response.content.decode()


def test_the_admin_site_keeps_the_same_rules(client, certificate_dir, django_user_model):
    superuser = django_user_model.objects.create_superuser("root", password="x")
    client.force_login(superuser)
    url = reverse("admin:vaults_subscription_add")
    data = {"name": "Sneaky", "subscription_id": "../../../../tmp/x", "host": "169.254.169.254:80",
            "protocol": "http", "certificate": "", "ca_certificate": ""}
    refused = client.post(url, data)
    assert refused.status_code == 200 and "must be a GUID" in refused.content.decode()
    refused = client.post(url, {**data, "subscription_id": GUID})
    assert "metadata" in refused.content.decode() or "link-local" in refused.content.decode()
    refused = client.post(url, {**data, "subscription_id": GUID, "host": "management.example.net",
                                "protocol": "https", "certificate": "not a pem"})
    assert refused.status_code == 200 and not Subscription.objects.filter(subscription_id=GUID).exists()
    assert not certificate_dir.exists() or not any(certificate_dir.iterdir())  # no certificate file written

    saved = client.post(url, {**data, "subscription_id": GUID.upper(), "host": "management.example.net",
                              "protocol": "https", "certificate": management_pem()})
    assert saved.status_code == 302
    subscription = Subscription.objects.get(subscription_id=GUID)  # kept lowercase, as the page keeps it
    change = reverse("admin:vaults_subscription_change", args=[subscription.pk])
    # Leaving the certificate empty keeps the one on file, which still passes the rules.
    kept = client.post(change, {"name": "Renamed", "subscription_id": GUID, "host": "management.example.net",
                                "protocol": "https", "certificate": "", "ca_certificate": ""})
    assert kept.status_code == 302 and Subscription.objects.get(pk=subscription.pk).name == "Renamed"
