"""Bad input to the lab fabric, sent over HTTP: a 4xx with the <Error><Code/><Message/></Error> body Azure
answers, never a 500 and never a request silently accepted."""

from __future__ import annotations

import re
import socket
import time
from xml.etree import ElementTree

import pytest
import requests
from azure.servicemanagement import constants as sms_constants

from fabric.app import BODY_IDLE
from tests.fabric.helpers import NS
from vaults.cloud import pageblob
from vaults.cloud.pageblob import PageBlobClient

pytestmark = pytest.mark.integration
MIB = 1 << 20
TIB = 1 << 40
VERSION = "2014-10-01"
WA = 'xmlns="http://schemas.microsoft.com/windowsazure" xmlns:i="http://www.w3.org/2001/XMLSchema-instance"'
ROLE = "/services/hostedservices/contoso-web/deployments/contoso-web/roles/web02"


def management(fabric, method: str, path: str, body: bytes | str = b"", version: str = VERSION) -> requests.Response:
    return requests.request(method, f"{fabric.base_url}/{fabric.subscription_id}{path}", data=body, timeout=10,
                            headers={"x-ms-version": version, "Content-Type": "application/xml"})


def error_of(answer: requests.Response) -> tuple[int, str, str]:
    """(status, code, message) of an error answer, of the management API (namespaced) or of storage (not)."""
    root = ElementTree.fromstring(answer.content)  # noqa: S314 - the fabric's own answer
    assert root.tag.rsplit("}", 1)[-1] == "Error"
    code = root.findtext("a:Code", namespaces=NS) or root.findtext("Code")
    message = root.findtext("a:Message", namespaces=NS) or root.findtext("Message")
    return answer.status_code, code, message


def role_xml(inner: str, root: str = "PersistentVMRole") -> str:
    return f"<{root} {WA}><RoleName>web02</RoleName><RoleType>PersistentVMRole</RoleType>{inner}</{root}>"


def data_disk(lun: str = "0", size: str = "1") -> str:
    return (f"<DataVirtualHardDisks><DataVirtualHardDisk><HostCaching>None</HostCaching><Lun>{lun}</Lun>"
            f"<LogicalDiskSizeInGB>{size}</LogicalDiskSizeInGB></DataVirtualHardDisk></DataVirtualHardDisks>")


@pytest.fixture
def disks() -> PageBlobClient:
    return PageBlobClient()


@pytest.fixture
def blob(own_fabric, disks, request) -> str:
    url = f"{own_fabric.base_url}/labstoreeastus/tests/{re.sub(r'[^A-Za-z0-9_-]', '-', request.node.name)}.vhd"
    disks.create(url, 16 * MIB)
    return url


# --- 1. Update Role with element values of the wrong type ------------------------------------------------------

@pytest.mark.parametrize(("inner", "element"), [
    (data_disk(lun="two"), "Lun"),
    (data_disk(lun="-1"), "Lun"),
    (data_disk(lun="1e3"), "Lun"),
    (data_disk(size="1.5"), "LogicalDiskSizeInGB"),
    (data_disk(size="99999999999"), "LogicalDiskSizeInGB"),
    ("<ProvisionGuestAgent>maybe</ProvisionGuestAgent>", "ProvisionGuestAgent"),
])
def test_update_role_refuses_a_value_of_the_wrong_type_naming_the_element(own_fabric, inner, element):
    answer = management(own_fabric, "PUT", ROLE, role_xml(inner))
    status, code, message = error_of(answer)
    assert (status, code) == (400, "BadRequest")
    assert f"'{element}'" in message
    assert answer.headers["x-ms-request-id"]


def test_a_refused_update_changes_nothing(own_fabric):
    before = management(own_fabric, "GET", ROLE).text
    refused = management(own_fabric, "PUT", ROLE, role_xml(data_disk(lun="two") + "<RoleSize>Large</RoleSize>"))
    assert refused.status_code == 400
    assert management(own_fabric, "GET", ROLE).text == before


# --- 2. A body of another operation, or no XML at all --------------------------------------------------------

@pytest.mark.parametrize("body", [
    f"<Deployment {WA}><Name>web02</Name><ProvisionGuestAgent>true</ProvisionGuestAgent></Deployment>",
    "<PersistentVMRole><RoleName>web02</RoleName><RoleSize>Large</RoleSize></PersistentVMRole>",  # no namespace
    "<Error><Code>x</Code></Error>",
    "this is not XML",
    "",
], ids=["deployment", "no-namespace", "other-root", "garbage", "empty"])
def test_update_role_refuses_a_body_that_is_not_a_persistent_vm_role(own_fabric, body):
    status, code, message = error_of(management(own_fabric, "PUT", ROLE, body))
    assert (status, code) == (400, "BadRequest")
    assert message


def test_wrong_root_names_the_expected_element(own_fabric):
    _, _, message = error_of(management(own_fabric, "PUT", ROLE, f"<Deployment {WA}/>"))
    assert "'PersistentVMRole'" in message
    assert "'Deployment'" in message


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/services/hostedservices", f"<Deployment {WA}><ServiceName>wrong-root</ServiceName>"
                                         "<Location>West US</Location></Deployment>"),
    ("POST", "/services/hostedservices/contoso-web/deployments/contoso-web/roles", role_xml("", root="Deployment")),
    ("POST", "/services/hostedservices/contoso-web/deployments", role_xml("")),
    ("POST", "/services/disks", f"<PersistentVMRole {WA}><Name>d</Name></PersistentVMRole>"),
    ("POST", "/services/hostedservices/contoso-web/deployments/contoso-web/roleinstances/web02/Operations",
     f"<Deployment {WA}><OperationType>ShutdownRoleOperation</OperationType></Deployment>"),
    ("POST", "/services/hostedservices/contoso-web/deployments/contoso-web/roleinstances/web02/Operations",
     f"<StartRoleOperation {WA}><OperationType>ShutdownRoleOperation</OperationType></StartRoleOperation>"),
], ids=["create-service", "add-role", "create-deployment", "add-disk", "role-operation", "operation-type"])
def test_every_management_body_must_have_its_own_root(own_fabric, method, path, body):
    status, code, _ = error_of(management(own_fabric, method, path, body))
    assert (status, code) == (400, "BadRequest")
    assert "wrong-root" not in management(own_fabric, "GET", "/services/hostedservices").text


# --- 3. Put Page over 4 MiB ------------------------------------------------------------------------------------

def test_put_page_over_4_mib_is_request_body_too_large(blob, disks):
    length = 4 * MIB + 512
    answer = requests.put(blob, params={"comp": "page"}, data=b"x" * length, timeout=30,
                          headers={"x-ms-range": f"bytes=0-{length - 1}", "x-ms-page-write": "update"})
    status, code, _ = error_of(answer)
    assert (status, code) == (413, "RequestBodyTooLarge")
    assert answer.headers["x-ms-error-code"] == "RequestBodyTooLarge"
    assert ElementTree.fromstring(answer.content).findtext("MaxLimit") == str(4 * MIB)  # noqa: S314
    assert disks.page_ranges(blob) == []


def test_put_page_over_4_mib_without_content_length_is_refused_too(blob, disks):
    length = 4 * MIB + 512

    def pieces():  # a generator body goes out chunked, with no Content-Length to judge it by
        for _ in range(length // 512):
            yield b"y" * 512

    answer = requests.put(blob, params={"comp": "page"}, data=pieces(), timeout=30,
                          headers={"x-ms-range": f"bytes=0-{length - 1}", "x-ms-page-write": "update"})
    assert error_of(answer)[:2] == (413, "RequestBodyTooLarge")
    assert disks.page_ranges(blob) == []


def test_put_page_of_exactly_4_mib_is_written(blob, disks):
    disks.write_pages(blob, 0, b"z" * (4 * MIB))
    assert disks.page_ranges(blob) == [(0, 4 * MIB)]


# --- 4. Page blob sizes ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("length", [str(8 * TIB + 512), str(16 * TIB), "1000", "12abc", "-512", str(10**30)])
def test_page_blob_size_must_be_a_multiple_of_512_up_to_8_tib(own_fabric, length):
    url = f"{own_fabric.base_url}/labstoreeastus/tests/too-big.vhd"
    answer = requests.put(url, timeout=10, headers={"x-ms-blob-type": "PageBlob", "x-ms-blob-content-length": length})
    status, code, _ = error_of(answer)
    assert (status, code) == (400, "InvalidHeaderValue")
    root = ElementTree.fromstring(answer.content)  # noqa: S314
    assert (root.findtext("HeaderName"), root.findtext("HeaderValue")) == ("x-ms-blob-content-length", length)
    assert requests.head(url, timeout=10).status_code == 404


def test_page_blob_of_8_tib_is_created(own_fabric, disks):
    url = f"{own_fabric.base_url}/labstoreeastus/tests/largest.vhd"
    disks.create(url, 8 * TIB)
    try:
        assert disks.size(url) == 8 * TIB
    finally:
        disks.delete(url)


def test_a_new_data_disk_over_8_tib_is_refused_naming_its_size(own_fabric, disks):
    os_blob = f"{own_fabric.base_url}/labstoreeastus/tests/huge-os.vhd"
    disks.create(os_blob, 16 * MIB)
    new_blob = f"{own_fabric.base_url}/labstoreeastus/tests/huge-data.vhd"
    body = (f"<PersistentVMRole {WA}><RoleName>huge01</RoleName><RoleType>PersistentVMRole</RoleType>"
            f"<DataVirtualHardDisks><DataVirtualHardDisk><Lun>0</Lun><LogicalDiskSizeInGB>{8 * 1024 + 1}"
            f"</LogicalDiskSizeInGB><MediaLink>{new_blob}</MediaLink></DataVirtualHardDisk></DataVirtualHardDisks>"
            f"<OSVirtualHardDisk><MediaLink>{os_blob}</MediaLink><OS>Linux</OS></OSVirtualHardDisk></PersistentVMRole>")
    answer = management(own_fabric, "POST", "/services/hostedservices/contoso-web/deployments/contoso-web/roles", body)
    status, code, message = error_of(answer)
    assert (status, code) == (400, "BadRequest")
    assert "LogicalDiskSizeInGB" in message
    assert requests.head(new_blob, timeout=10).status_code == 404


# --- 5. A body shorter than its Content-Length ------------------------------------------------------------------

def short_body(port: int, head: str, body: bytes) -> tuple[bytes, float]:
    """Send ``head`` and fewer body bytes than it promises; (all the server sent, seconds until it closed)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=BODY_IDLE + 15) as conn:
        conn.sendall(head.encode("ascii") + body)
        answer = b""
        while piece := conn.recv(65536):
            answer += piece
    return answer, time.monotonic() - started


@pytest.mark.parametrize("side", ["blob", "compute"])
def test_body_short_of_its_content_length_is_answered_in_bounded_time(own_fabric, disks, side):
    if side == "blob":
        url = f"{own_fabric.base_url}/labstoreeastus/tests/short-body.vhd"
        disks.create(url, 16 * MIB)
        head = ("PUT /labstoreeastus/tests/short-body.vhd?comp=page HTTP/1.1\r\nHost: fabric\r\n"
                f"x-ms-range: bytes=0-{MIB - 1}\r\nx-ms-page-write: update\r\nContent-Length: {MIB}\r\n\r\n")
        body = b"s" * 1000
    else:
        body = role_xml("<RoleSize>Large</RoleSize>").encode()
        head = (f"PUT /{own_fabric.subscription_id}{ROLE} HTTP/1.1\r\nHost: fabric\r\nx-ms-version: {VERSION}\r\n"
                f"Content-Type: application/xml\r\nContent-Length: {len(body) + 5000}\r\n\r\n")
    answer, elapsed = short_body(own_fabric.port, head, body)
    assert elapsed < BODY_IDLE + 10
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 400 Bad Request"
    assert b"connection: close" in rest.lower()
    assert b"<Code>" + (b"InvalidHeaderValue" if side == "blob" else b"BadRequest") + b"</Code>" in rest
    if side == "blob":
        assert disks.page_ranges(url) == []
    else:
        assert "<RoleSize>Large</RoleSize>" not in management(own_fabric, "GET", ROLE).text
    assert management(own_fabric, "GET", "/locations").status_code == 200  # and the fabric goes on serving


# --- 6. x-ms-version ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["2099-01-01", "2015-13-01", "2015-02-30", "latest", "2008-01-01"])
def test_management_refuses_a_version_it_does_not_have(own_fabric, version):
    status, code, _ = error_of(management(own_fabric, "GET", "/services/hostedservices", version=version))
    assert (status, code) == (400, "MissingOrIncorrectVersionHeader")


# Every version the SDK sends: its default, and those of the calls that name their own.
@pytest.mark.parametrize("version", sorted({sms_constants.X_MS_VERSION, "2014-10-01", "2015-02-01", "2015-04-01"}))
def test_management_accepts_the_versions_the_portal_sends(own_fabric, version):
    assert management(own_fabric, "GET", "/services/hostedservices", version=version).status_code == 200


@pytest.mark.parametrize("version", ["2099-01-01", "2015-04-31", "2015/04/05", "1999-01-01"])
def test_storage_refuses_a_version_it_does_not_have(blob, version):
    answer = requests.get(blob, params={"comp": "pagelist"}, headers={"x-ms-version": version}, timeout=10)
    status, code, _ = error_of(answer)
    assert (status, code) == (400, "InvalidHeaderValue")
    assert ElementTree.fromstring(answer.content).findtext("HeaderName") == "x-ms-version"  # noqa: S314


def test_storage_accepts_the_version_the_portal_sends(blob):
    answer = requests.get(blob, params={"comp": "pagelist"}, headers={"x-ms-version": pageblob.VERSION}, timeout=10)
    assert answer.status_code == 200


# --- 7. snapshot= and prevsnapshot= ---------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "params"), [
    ("GET", {"snapshot": "yesterday"}),
    ("GET", {"comp": "pagelist", "snapshot": "2024-02-30T00:00:00.0000000Z"}),
    ("GET", {"comp": "pagelist", "prevsnapshot": "not-a-snapshot"}),
    ("DELETE", {"snapshot": "2024-01-01 10:00:00"}),
], ids=["read", "impossible-date", "prevsnapshot", "delete"])
def test_malformed_snapshot_is_an_invalid_query_parameter_value(blob, method, params):
    answer = requests.request(method, blob, params=params, timeout=10)
    status, code, _ = error_of(answer)
    assert (status, code) == (400, "InvalidQueryParameterValue")
    root = ElementTree.fromstring(answer.content)  # noqa: S314
    name = "prevsnapshot" if "prevsnapshot" in params else "snapshot"
    assert (root.findtext("QueryParameterName"), root.findtext("QueryParameterValue")) == (name, params[name])


def test_malformed_snapshot_on_head_is_400_too(blob):
    answer = requests.head(blob, params={"snapshot": "x"}, timeout=10)
    assert (answer.status_code, answer.headers["x-ms-error-code"]) == (400, "InvalidQueryParameterValue")


def test_well_formed_snapshot_that_does_not_exist_is_still_not_found(blob, disks):
    taken = disks.snapshot(blob)
    assert disks.size(blob, snapshot=taken) == 16 * MIB
    answer = requests.get(blob, params={"snapshot": "2001-01-01T00:00:00.0000000Z"}, timeout=10)
    assert error_of(answer)[:2] == (404, "BlobNotFound")


def test_unknown_comp_on_a_read_is_refused(blob):
    answer = requests.get(blob, params={"comp": "bogus"}, timeout=10)
    assert error_of(answer)[:2] == (400, "InvalidQueryParameterValue")
