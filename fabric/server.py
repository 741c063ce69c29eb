"""Run the fabric under uvicorn, over HTTP or over HTTPS that requires a management certificate.

Pointing ``azure-servicemanagement-legacy`` at a lab fabric
-----------------------------------------------------------
The SDK builds ``https://<host><path>``; ``host`` may carry a port. Over plain
HTTP (the lab default) set its HTTP client's protocol after construction; a
``requests.Session`` passed in carries ``trust_env=False`` so proxy and CA
bundle variables of the environment do not interfere::

    import requests
    from azure.servicemanagement import ServiceManagementService

    session = requests.Session()
    session.trust_env = False
    sms = ServiceManagementService(subscription_id, request_session=session, host="127.0.0.1:8100")
    sms._httpclient.protocol = "http"          # the SDK has no public switch for this

Over HTTPS (``fabric serve --https``) keep the default protocol and give the
session the management certificate and the lab CA (``fabric cert`` makes them)::

    session.cert = "var/fabric/certs/management.pem"    # certificate + key in one PEM
    session.verify = "var/fabric/certs/ca.pem"
    sms = ServiceManagementService(subscription_id, request_session=session, host="127.0.0.1:8100")

Fields the SDK's models drop (``GuestAgentStatus``,
``ResourceExtensionStatusList``, ``ResourceExtensionReferences``,
``ProvisionGuestAgent``) are in the raw XML of
``sms.perform_get(path).body``. Poll ``sms.get_operation_status(request_id)``
yourself; the SDK's ``wait_for_operation_status`` prints to stdout.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import ssl
from pathlib import Path

import uvicorn

from fabric.app import FabricApp
from fabric.certs import generate


def recycle_large_buffers() -> None:
    """Keep freed multi-MiB buffers (request bodies, reads) in the heap instead of faulting fresh pages in for each
    request: with glibc's defaults a 4 MiB Put Page cost ~2.5x the CPU. (Same setting as the portal's workers.)"""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 32 << 20)   # M_MMAP_THRESHOLD
        libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD


def serve(state_dir: Path, *, host: str = "127.0.0.1", port: int = 8100, https: bool = False, op_delay: float = 0.2,
          agent_delay: float = 0.3) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    if not (state_dir / "compute.json").exists():
        print(f"No lab in {state_dir} yet: `manage.py fabric seed` builds one. Serving an empty fabric.", flush=True)
    scheme = "https" if https else "http"
    app = FabricApp(state_dir, op_delay=op_delay, agent_delay=agent_delay, public_url=f"{scheme}://{host}:{port}")
    options: dict = {}
    if https:
        certs = generate(state_dir / "certs")
        options = {"ssl_certfile": str(certs / "server.pem"), "ssl_keyfile": str(certs / "server.key"),
                   "ssl_ca_certs": str(certs / "ca.pem"), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    recycle_large_buffers()
    # httptools and uvloop when installed: they keep large disk reads well above 500 MB/s.
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on",
                http="auto", loop="auto", timeout_keep_alive=30, timeout_graceful_shutdown=1, **options)
