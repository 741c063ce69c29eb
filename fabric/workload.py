"""What runs *against* a serving fabric over HTTP: workload churn, disk image import, fault switches.

These go through the same page-blob and management API as any client, so a
running fabric sees them as it would see a guest writing to its disks.
"""

from __future__ import annotations

import random
from pathlib import Path
from urllib.parse import urlsplit
from xml.etree import ElementTree

import httpx

from fabric.lab import text_bytes
from fabric.state import NAMESPACE

NS = {"a": NAMESPACE}
X_MS_VERSION = "2015-04-01"
CHUNK = 4 * 1024 * 1024
SPARSE = 64 * 1024  # an image's all-zero stretches are found at this granularity (a lab disk's extent)
ZEROS = bytes(SPARSE)


def client(base_url: str, cert_dir: Path | None = None) -> httpx.Client:
    """An HTTP client for the fabric; for https, the lab CA and management certificate from ``cert_dir``."""
    options: dict = {"base_url": base_url, "timeout": 60.0, "trust_env": False}
    if urlsplit(base_url).scheme == "https" and cert_dir is not None:
        import ssl

        context = ssl.create_default_context(cafile=str(cert_dir / "ca.pem"))
        context.load_cert_chain(str(cert_dir / "management.pem"))
        options["verify"] = context
    return httpx.Client(**options)


def vm_disks(http: httpx.Client, subscription: str, target: str) -> list[dict]:
    """[{"name", "lun", "url"}] of ``service/vm``, read from the deployment as a client would."""
    service, _, vm = target.partition("/")
    answer = http.get(f"/{subscription}/services/hostedservices/{service}", params={"embed-detail": "true"},
                      headers={"x-ms-version": X_MS_VERSION})
    answer.raise_for_status()
    root = ElementTree.fromstring(answer.content)  # noqa: S314 - our own fabric's answer
    for role in root.iterfind("a:Deployments/a:Deployment/a:RoleList/a:Role", NS):
        if role.findtext("a:RoleName", namespaces=NS) != vm:
            continue
        os_disk = role.find("a:OSVirtualHardDisk", NS)
        disks = [{"name": os_disk.findtext("a:DiskName", namespaces=NS), "lun": None,
                  "url": os_disk.findtext("a:MediaLink", namespaces=NS)}]
        for disk in role.iterfind("a:DataVirtualHardDisks/a:DataVirtualHardDisk", NS):
            disks.append({"name": disk.findtext("a:DiskName", namespaces=NS), "lun": int(disk.findtext("a:Lun", "0", NS)),
                          "url": disk.findtext("a:MediaLink", namespaces=NS)})
        return disks
    raise LookupError(f"no VM {target!r} in subscription {subscription}")


def blob_path(url: str) -> str:
    return urlsplit(url).path


def used_bytes(http: httpx.Client, path: str) -> tuple[int, list[tuple[int, int]]]:
    size = int(http.head(path).headers["content-length"])
    answer = http.get(path, params={"comp": "pagelist"})
    answer.raise_for_status()
    root = ElementTree.fromstring(answer.content)  # noqa: S314 - our own fabric's answer
    ranges = [(int(r.findtext("Start")), int(r.findtext("End")) + 1) for r in root.iterfind("PageRange")]
    return size, ranges


def sparse_runs(chunk: bytes) -> list[tuple[int, int, bool]]:
    """(start, end, holds data) runs of ``chunk``, told apart per ``SPARSE`` block: the image's never-written
    stretches stay never written on the disk, as its page ranges then show, instead of being written as zeros."""
    runs: list[tuple[int, int, bool]] = []
    for start in range(0, len(chunk), SPARSE):
        block = chunk[start:start + SPARSE]
        data = block != ZEROS[:len(block)]
        if runs and runs[-1][2] == data:
            runs[-1] = (runs[-1][0], start + len(block), data)
        else:
            runs.append((start, start + len(block), data))
    return runs


def clear_pages(http: httpx.Client, path: str, offset: int, length: int) -> None:
    answer = http.put(path, params={"comp": "page"},
                      headers={"x-ms-range": f"bytes={offset}-{offset + length - 1}", "x-ms-page-write": "clear"})
    answer.raise_for_status()


def write_pages(http: httpx.Client, path: str, offset: int, data: bytes) -> None:
    answer = http.put(path, params={"comp": "page"}, content=data,
                      headers={"x-ms-range": f"bytes={offset}-{offset + len(data) - 1}", "x-ms-page-write": "update"})
    answer.raise_for_status()


def churn(http: httpx.Client, subscription: str, target: str, percent: float, seed: int) -> int:
    """Rewrite ``percent`` % of the used bytes of each disk of the VM (at least 4 KiB each); returns bytes written.

    Writes are 4-64 KiB at 4 KiB-aligned offsets: seven in ten land on data
    already there (rewrites), the rest anywhere on the disk (new data), half of
    them random bytes and half text, as a database and its logs would.
    """
    rng = random.Random(seed)
    total = 0
    for disk in vm_disks(http, subscription, target):
        path = blob_path(disk["url"])
        size, ranges = used_bytes(http, path)
        budget = max(4096, int(sum(end - start for start, end in ranges) * percent / 100) // 4096 * 4096)
        while budget > 0:
            length = min(budget, rng.choice((4, 8, 16, 64)) * 1024)
            if ranges and rng.random() < 0.7:
                start, end = rng.choice(ranges)
                offset = rng.randrange(start, max(start + 1, end - length + 1)) // 4096 * 4096
            else:
                offset = rng.randrange(0, size - length) // 4096 * 4096
            offset = min(offset, size - length)
            data = rng.randbytes(length) if rng.random() < 0.5 else text_bytes(rng, length)
            write_pages(http, path, offset, data)
            budget -= length
            total += length
    return total


def import_disk(http: httpx.Client, subscription: str, target: str, disk: str, image: Path) -> int:
    """Load a raw image into a disk of the VM (``disk`` is ``os``, a LUN or a disk name); returns bytes written.

    All-zero stretches (per 64 KiB) are cleared rather than written, so the
    disk stays as sparse as the image; whatever the disk held past the
    image's end is cleared too.
    """
    disks = vm_disks(http, subscription, target)
    chosen = next((d for d in disks if disk in (d["name"], str(d["lun"])) or (disk == "os" and d["lun"] is None)), None)
    if chosen is None:
        raise LookupError(f"{target} has no disk {disk!r}")
    path = blob_path(chosen["url"])
    size = int(http.head(path).headers["content-length"])
    if image.stat().st_size > size:
        raise ValueError(f"the image ({image.stat().st_size} bytes) is larger than the disk ({size} bytes)")
    written = 0
    with open(image, "rb") as source:
        offset = 0
        while chunk := source.read(CHUNK):
            chunk += bytes(-len(chunk) % 512)
            for start, end, data in sparse_runs(chunk):
                if data:
                    write_pages(http, path, offset + start, chunk[start:end])
                    written += end - start
                else:
                    clear_pages(http, path, offset + start, end - start)
            offset += len(chunk)
    if offset < size:  # the disk holds the image and nothing else
        clear_pages(http, path, offset, size - offset)
    return written
