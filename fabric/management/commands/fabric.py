"""``manage.py fabric``: serve, seed and drive the bundled lab fabric.

    fabric serve [--port P] [--https] [--op-delay S] [--agent-delay S]
    fabric seed [--subscription-id ID] [--vms N] [--if-empty]
    fabric churn <service>/<vm> --percent P --seed S
    fabric import-disk <service>/<vm> <disk> IMAGE     (disk: os, a LUN, or a disk name)
    fabric fault [--latency-ms N] [--error-rate R] [--error-next N] [--error-status S] [--error-scope X]
                 [--agent-unresponsive VM ...] [--snapshot-hang VM ...] [--vanish VM] [--clear]
    fabric cert [--force]

State lives in ``<VAR_DIR>/fabric/``. The subscription id of a new lab is
``--subscription-id``, else the ``LAB_SUBSCRIPTION_ID`` setting (environment
variable of the same name), else ``6d1f2c7a-3b4e-4f5a-9c8d-1a2b3c4d5e6f``,
the id the portal registers as "Lab subscription". Client subcommands talk to
``--url`` (default ``http://127.0.0.1:<FABRIC_PORT>``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fabric.state import DEFAULT_SUBSCRIPTION


def state_dir() -> Path:
    return Path(settings.VAR_DIR) / "fabric"


SERVICES_SHOWN = 4  # per region: a large lab (thousands of VMs) still fits on one screen


def lab_summary(directory: Path, subscription: str, *, kept: bool) -> list[str]:
    """What the lab in ``directory`` holds, per region: its cloud services and their VMs, in a few lines."""
    from django.utils.translation import gettext as _
    from django.utils.translation import ngettext

    from fabric.state import Compute

    services = Compute.load(directory / "compute.json").doc.get("subscriptions", {}).get(subscription, {}).get(
        "services", {})
    regions: dict[str, list[tuple[str, list[str]]]] = {}
    for name, service in services.items():
        vms = [vm for deployment in service.get("deployments", {}).values() for vm in deployment.get("roles", {})]
        regions.setdefault(service.get("location", "?"), []).append((name, vms))
    total = sum(len(vms) for members in regions.values() for _name, vms in members)
    head = _("Lab fabric (kept from the last run)") if kept else _("Lab fabric (new)")
    lines = [_("%(head)s: %(vms)s in %(services)s, in %(regions)s.") % {
        "head": head, "vms": ngettext("%(n)d virtual machine", "%(n)d virtual machines", total) % {"n": total},
        "services": ngettext("%(n)d cloud service", "%(n)d cloud services", len(services)) % {"n": len(services)},
        "regions": ngettext("%(n)d region", "%(n)d regions", len(regions)) % {"n": len(regions)}}]
    width = max((len(region) for region in regions), default=0)
    for region, members in regions.items():
        shown = [f"{name} ({', '.join(vms)})" for name, vms in members[:SERVICES_SHOWN]]
        if len(members) > SERVICES_SHOWN:
            rest = members[SERVICES_SHOWN:]
            shown.append(_("%(services)d more cloud services with %(vms)d VMs") % {
                "services": len(rest), "vms": sum(len(vms) for _name, vms in rest)})
        lines.append(f"  {region.ljust(width)}  " + " · ".join(shown))
    return lines


class Command(BaseCommand):
    help = "Serve, seed and drive the bundled lab fabric."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        serve = actions.add_parser("serve", help="serve the fabric (compute and page blobs) until stopped")
        serve.add_argument("--port", type=int, default=None)
        serve.add_argument("--host", default="127.0.0.1")
        serve.add_argument("--https", action="store_true", help="serve HTTPS and require the lab management certificate")
        serve.add_argument("--op-delay", type=float, default=float(os.environ.get("FABRIC_OP_DELAY", "0.2")))
        serve.add_argument("--agent-delay", type=float, default=float(os.environ.get("FABRIC_AGENT_DELAY", "0.3")))

        seed = actions.add_parser("seed", help="build a fresh lab (prints its subscription id)")
        seed.add_argument("--subscription-id", default=os.environ.get("LAB_SUBSCRIPTION_ID")
                          or getattr(settings, "LAB_SUBSCRIPTION_ID", None) or DEFAULT_SUBSCRIPTION)
        seed.add_argument("--vms", type=int, default=12)
        seed.add_argument("--if-empty", action="store_true", help="do nothing when a lab already exists")
        seed.add_argument("--summary", action="store_true",
                          help="say what the lab holds (regions, cloud services, VMs) instead of printing its id")

        for name, helptext in (("churn", "write to a VM's disks as its workload would"),
                               ("import-disk", "load a raw image into a VM's disk (all-zero 64 KiB stretches stay unwritten)"),
                               ("fault", "switch faults of a running fabric")):
            sub = actions.add_parser(name, help=helptext)
            sub.add_argument("--url", default=None)
            sub.add_argument("--subscription-id", default=None)
            if name != "fault":
                sub.add_argument("vm", help="<service>/<vm>")
            if name == "churn":
                sub.add_argument("--percent", type=float, required=True)
                sub.add_argument("--seed", type=int, default=0)
            if name == "import-disk":
                sub.add_argument("disk", help="os, a LUN, or a disk name")
                sub.add_argument("image", type=Path)
            if name == "fault":
                sub.add_argument("--latency-ms", type=int)
                sub.add_argument("--error-rate", type=float)
                sub.add_argument("--error-next", type=int)
                sub.add_argument("--error-status", type=int)
                sub.add_argument("--error-scope", choices=["all", "compute", "blob"])
                sub.add_argument("--agent-unresponsive", nargs="*")
                sub.add_argument("--snapshot-hang", nargs="*")
                sub.add_argument("--vanish", metavar="SERVICE/VM")
                sub.add_argument("--clear", action="store_true")

        cert = actions.add_parser("cert", help="generate the lab CA, server and management certificates")
        cert.add_argument("--force", action="store_true")

    def handle(self, *args, action: str, **options) -> None:
        getattr(self, "do_" + action.replace("-", "_"))(options)

    def do_serve(self, options: dict) -> None:
        from fabric.server import serve

        serve(state_dir(), host=options["host"], port=options["port"] or settings.FABRIC_PORT, https=options["https"],
              op_delay=options["op_delay"], agent_delay=options["agent_delay"])

    def do_seed(self, options: dict) -> None:
        from fabric import lab

        directory = state_dir()
        kept = options["if_empty"] and lab.has_lab(directory)
        if not kept and self._served_here(directory):
            raise CommandError(f"A fabric on port {settings.FABRIC_PORT} is serving {directory}; stop it before seeding "
                               "(it would write its old lab back over the new one).")
        subscription = (lab.served_subscription(directory) or "") if kept else (
            lab.seed(directory, options["subscription_id"], options["vms"]))
        # The bare id is for scripts (the test fixtures and benchmarks read it); a person asks for --summary.
        self.stdout.write("\n".join(lab_summary(directory, subscription, kept=kept)) if options["summary"] else subscription)

    @staticmethod
    def _served_here(directory: Path) -> bool:
        import httpx

        try:
            health = httpx.get(f"http://127.0.0.1:{settings.FABRIC_PORT}/_fabric/health", timeout=0.5, trust_env=False)
            return health.json().get("state_dir") == str(directory.resolve())
        except (httpx.HTTPError, ValueError, AttributeError):
            return False

    def do_cert(self, options: dict) -> None:
        from fabric.certs import generate

        self.stdout.write(str(generate(state_dir() / "certs", force=options["force"])))

    def _client(self, options: dict):
        from fabric import lab, workload

        url = options["url"] or f"http://127.0.0.1:{settings.FABRIC_PORT}"
        subscription = options["subscription_id"] or lab.served_subscription(state_dir()) or DEFAULT_SUBSCRIPTION
        return workload.client(url, state_dir() / "certs"), subscription

    def do_churn(self, options: dict) -> None:
        from fabric import workload

        http, subscription = self._client(options)
        with http:
            written = workload.churn(http, subscription, options["vm"], options["percent"], options["seed"])
        self.stdout.write(f"wrote {written} bytes to {options['vm']}")

    def do_import_disk(self, options: dict) -> None:
        from fabric import workload

        if not options["image"].is_file():
            raise CommandError(f"no image file {options['image']}")
        http, subscription = self._client(options)
        with http:
            written = workload.import_disk(http, subscription, options["vm"], options["disk"], options["image"])
        self.stdout.write(f"wrote {written} bytes to {options['vm']} disk {options['disk']}")

    def do_fault(self, options: dict) -> None:
        http, _ = self._client(options)
        names = ("latency_ms", "error_rate", "error_next", "error_status", "error_scope", "agent_unresponsive",
                 "snapshot_hang")
        changes = {name: options[name] for name in names if options.get(name) is not None}
        with http:
            if options["clear"]:
                http.delete("/_fabric/faults").raise_for_status()
            if options["vanish"]:
                answer = http.post("/_fabric/vanish", content=json.dumps({"vm": options["vanish"]}))
                if answer.status_code != 200:
                    raise CommandError(answer.json().get("error", answer.text))
            answer = http.post("/_fabric/faults", content=json.dumps(changes))
            if answer.status_code != 200:
                raise CommandError(answer.json().get("error", answer.text))
            self.stdout.write(json.dumps(answer.json(), indent=2))
