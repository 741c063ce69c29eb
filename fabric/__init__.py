"""The bundled lab fabric: a classic cloud endpoint on this machine, with VMs whose disks hold real bytes.

It runs as its own process (``manage.py fabric serve``, port ``FABRIC_PORT``)
and keeps its state under ``<VAR_DIR>/fabric/``. The portal reaches it only
over HTTP, as it would reach any Service Management endpoint; nothing here
imports the portal's apps and nothing there imports this package.

Modules, one concern each:

* ``disks``: page blobs with copy-on-write snapshots (on-disk format, diffs).
* ``blobs``: the page-blob REST subset over ``disks``.
* ``state``: the compute document (subscriptions, accounts, services, VMs) and operations.
* ``shapes``: Service Management XML in and out.
* ``compute``: the Service Management endpoints.
* ``agent``: the VM agent and backup extension; the snapshot request/result contract.
* ``faults``: run-time fault switches.
* ``app``: the ASGI application tying them together, plus ``/_fabric/`` administration.
* ``server``: uvicorn, HTTP or HTTPS with a required client certificate; how to point the SDK here.
* ``lab``: the seeded lab; ``workload``: churn, image import and faults as HTTP clients; ``certs``: the lab PKI.
"""
