"""The lab a new user finds: regions, storage accounts, virtual networks, cloud services and VMs with real disk bytes.

Seeding writes the state directory directly (compute.json and the blobs), so
it runs while no fabric serves that directory: ``make run`` seeds before it
starts the processes, and the tests seed before they start the server.
"""

from __future__ import annotations

import random
import shutil
import uuid
from pathlib import Path

from fabric.disks import DiskStore
from fabric.state import DEFAULT_SUBSCRIPTION, Compute, now_iso, subnet_address

GIB = 1 << 30
MIB = 1 << 20

ACCOUNTS = {
    "labstoreeastus": {"location": "East US", "sku": "Standard_LRS"},
    "labstorewestus": {"location": "West US", "sku": "Standard_LRS"},
    "labstorenortheu": {"location": "North Europe", "sku": "Standard_LRS"},
    "labpremiumeastus": {"location": "East US", "sku": "Premium_LRS"},
}
REGION_ACCOUNT = {"East US": "labstoreeastus", "West US": "labstorewestus", "North Europe": "labstorenortheu"}

# (service, region, [(vm, os, agent, power, data disk count, account override)])
LAB = [
    ("contoso-web", "East US", [("web01", "Windows", True, "Started", 1, None), ("web02", "Linux", True, "Started", 1, None)]),
    # A second web01 in the same region: users tell them apart by cloud service.
    ("tailspin-web", "East US", [("web01", "Linux", True, "Started", 1, None)]),
    ("contoso-sql", "East US", [("sql01", "Windows", True, "Started", 17, None)]),
    ("contoso-premium", "East US", [("db01", "Linux", True, "Started", 2, "labpremiumeastus")]),
    ("fabrikam-app", "West US", [("app01", "Linux", True, "Started", 1, None), ("app02", "Linux", True, "Started", 0, None),
                                 ("legacy01", "Windows", False, "Started", 1, None)]),
    ("fabrikam-batch", "West US", [("batch01", "Linux", True, "Stopped", 1, None)]),
    ("northwind-eu", "North Europe", [("web01", "Linux", True, "Started", 1, None),
                                      ("files01", "Linux", True, "Started", 2, None)]),
    ("northwind-dev", "North Europe", [("dev01", "Linux", True, "Started", 0, None),
                                       ("dev02", "Linux", True, "Started", 1, None)]),
]
# Regional virtual networks: (name, region, address space, [(subnet, prefix)]).
NETWORKS = [
    ("contoso-vnet", "East US", "10.1.0.0/16", [("frontend", "10.1.1.0/24"), ("backend", "10.1.2.0/24"),
                                                ("management", "10.1.3.0/24")]),
    ("tailspin-vnet", "East US", "10.2.0.0/16", [("Subnet-1", "10.2.0.0/24"), ("Subnet-2", "10.2.1.0/24")]),
    ("fabrikam-vnet", "West US", "10.3.0.0/16", [("app", "10.3.1.0/24"), ("batch", "10.3.2.0/24")]),
    ("northwind-vnet", "North Europe", "10.4.0.0/16", [("web", "10.4.1.0/24"), ("files", "10.4.2.0/24"),
                                                       ("dev", "10.4.3.0/24")]),
]
# Cloud services whose deployment is in a virtual network, and the subnet of their VMs; the others are in none.
SERVICE_NETWORKS = {"contoso-web": ("contoso-vnet", "frontend"), "contoso-sql": ("contoso-vnet", "backend"),
                    "fabrikam-app": ("fabrikam-vnet", "app"), "northwind-eu": ("northwind-vnet", "web")}
WORDS = ("backup", "vault", "restore", "snapshot", "page", "blob", "region", "replica", "policy", "retention", "daily",
         "weekly", "monthly", "yearly", "agent", "extension", "disk", "volume", "journal", "checkpoint", "index",
         "table", "row", "column", "service", "deployment", "role", "instance")


def text_bytes(rng: random.Random, size: int) -> bytes:
    """Log-like lines: compressible, but not zeros."""
    lines, total = [], 0
    while total < size:
        line = f"{rng.randrange(10**9):09d} {' '.join(rng.choice(WORDS) for _ in range(rng.randrange(4, 12)))}\n"
        lines.append(line)
        total += len(line)
    return "".join(lines).encode()[:size]


def disk_content(rng: random.Random, size: int, small: bool) -> list[tuple[int, bytes]]:
    """Where a new disk holds bytes: a boot area, text, random data; everything else stays zero (sparse)."""
    if small:
        return [(0, rng.randbytes(4096))]
    pieces = [(0, rng.randbytes(64 * 1024)), (MIB, text_bytes(rng, 512 * 1024))]
    for _ in range(2):
        offset = rng.randrange(2 * MIB, size - MIB) // 4096 * 4096
        pieces.append((offset, rng.randbytes(128 * 1024) if rng.random() < 0.5 else text_bytes(rng, 128 * 1024)))
    return pieces


class LabBuilder:
    def __init__(self, state_dir: Path, subscription_id: str) -> None:
        self.state_dir = state_dir
        self.sub_id = subscription_id
        self.compute = Compute(path=state_dir / "compute.json")
        self.disks = DiskStore(state_dir / "blobs")
        self.services: dict[str, dict] = {}
        self.networks = {name: {"name": name, "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{subscription_id}/{name}")),
                                "location": region, "address_prefixes": [space],
                                "subnets": [{"name": subnet, "prefix": prefix} for subnet, prefix in subnets]}
                         for name, region, space, subnets in NETWORKS}
        self.subnet_ips: set[str] = set()
        self.ips = 4

    def make_disk(self, blob: str, size: int, rng: random.Random, small: bool) -> None:
        disk = self.disks.create(blob, size)
        for offset, data in disk_content(rng, size, small):
            padded = data + bytes(-len(data) % 512)
            disk.write(offset, padded)
        disk.close()
        self.disks.blobs.pop(blob, None)

    def add_vm(self, service: str, region: str, vm: str, os_name: str, agent: bool, power: str, data_disks: int,
               account: str | None, small: bool = False) -> None:
        svc = self.services.setdefault(service, {
            "name": service, "label": service, "description": f"Lab cloud service {service}", "location": region,
            "created": now_iso(), "deployments": {}})
        dep = svc["deployments"].setdefault(service, {"name": service, "slot": "Production", "label": service,
                                                      "private_id": uuid.uuid4().hex, "created": now_iso(), "roles": {}})
        account = account or REGION_ACCOUNT[region]
        rng = random.Random(f"{service}/{vm}")
        os_size = (127 if os_name == "Windows" else 30) * GIB
        stamp = "20150301120000"
        io_type = "Provisioned" if ACCOUNTS[account]["sku"].startswith("Premium") else "Standard"
        os_blob = f"{account}/vhds/{service}-{vm}-os-{stamp}.vhd"
        self.make_disk(os_blob, os_size, rng, small)
        data = []
        for lun in range(data_disks):
            size_gb = 1 if data_disks > 4 else rng.choice((8, 16, 32))
            blob = f"{account}/vhds/{service}-{vm}-data{lun}-{stamp}.vhd"
            self.make_disk(blob, size_gb * GIB, rng, small or size_gb == 1)
            data.append({"name": f"{service}-{vm}-{lun + 1}-{stamp}", "label": f"data{lun}", "lun": lun, "blob": blob,
                         "size_gb": size_gb, "host_caching": "None", "io_type": io_type})
        self.ips += 1
        ip = f"10.{self.ips // 250 % 250}.{self.ips % 250}.{self.ips // 62500 + 4}"
        subnets = []
        if service in SERVICE_NETWORKS:
            network, subnet = SERVICE_NETWORKS[service]
            dep["virtual_network"] = network
            prefix = next(s["prefix"] for s in self.networks[network]["subnets"] if s["name"] == subnet)
            ip = subnet_address(prefix, self.subnet_ips)
            self.subnet_ips.add(ip)
            subnets = [subnet]
        dep["roles"][vm] = {
            "name": vm, "size": "Medium" if not small else "Small", "os": os_name, "ip": ip, "subnets": subnets,
            "power": power,
            "agent": agent, "provision_guest_agent": agent, "agent_seen": now_iso(), "deallocated": False,
            "os_disk": {"name": f"{service}-{vm}-0-{stamp}", "label": f"{vm} OS disk", "blob": os_blob,
                        "size_gb": os_size // GIB, "host_caching": "ReadWrite", "os": os_name, "io_type": io_type,
                        "source_image": "lab-ubuntu-14_04" if os_name == "Linux" else "lab-windows-server-2012-r2"},
            "data_disks": data, "extensions": [], "extension_status": {}}

    def build(self, vms: int) -> None:
        count = 0
        for service, region, members in LAB:
            for vm, os_name, agent, power, data_disks, account in members:
                self.add_vm(service, region, vm, os_name, agent, power, data_disks, account)
                count += 1
        regions = list(REGION_ACCOUNT)
        extra = max(0, vms - count)
        for index in range(extra):
            # Large labs: ten VMs per cloud service, tiny sparse disks so 5,000 VMs seed in seconds.
            service = f"scale-{index // 10:04d}"
            self.add_vm(service, regions[(index // 10) % 3], f"vm{index % 10:02d}", "Linux", True, "Started", 0, None,
                        small=True)
        self.compute.doc = {"subscriptions": {self.sub_id: {
            "accounts": ACCOUNTS, "services": self.services, "disks": {}, "networks": self.networks}}}
        self.compute.save()


def has_lab(state_dir: Path) -> bool:
    compute_file = state_dir / "compute.json"
    return compute_file.exists() and bool(Compute.load(compute_file).doc.get("subscriptions"))


def served_subscription(state_dir: Path) -> str | None:
    subs = list(Compute.load(state_dir / "compute.json").doc.get("subscriptions", {})) if has_lab(state_dir) else []
    return subs[0] if subs else None


def seed(state_dir: Path, subscription_id: str = DEFAULT_SUBSCRIPTION, vms: int = 12) -> str:
    """Build a fresh lab in ``state_dir`` (whatever was there goes) and return its subscription id."""
    for child in ("compute.json", "blobs"):
        target = state_dir / child
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    state_dir.mkdir(parents=True, exist_ok=True)
    LabBuilder(state_dir, subscription_id).build(vms)
    return subscription_id
