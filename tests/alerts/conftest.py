"""Fixtures of the alerts suite: a real SMTP server (aiosmtpd) and a real HTTP receiver on free ports, Celery tasks
run in this process (eagerly, retries included), and helpers that run jobs and evaluations as the beat would."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import free_port

# The suite's Celery worker (started later, from this environment) tries a failed delivery again after 1 s, then 2 s.
os.environ.setdefault("ALERTS_RETRY_SECONDS", "1")


@pytest.fixture(autouse=True)
def remove_new_vault_stores(vault_stores_removed):
    """The stores of the vaults a test made are removed when it ends."""


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list = field(default_factory=list)

    def wait(self, count: int, timeout: float = 10.0) -> list:
        from tests.conftest import wait_for

        wait_for(lambda: len(self.messages) >= count, what=f"{count} email(s)", timeout=timeout)
        return self.messages


@pytest.fixture
def smtp_server(settings):
    """An SMTP server (aiosmtpd) on a free port, and Django's mail pointed at it over real SMTP."""
    from email import message_from_bytes, policy

    from aiosmtpd.controller import Controller

    class Collect:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            message = message_from_bytes(envelope.content, policy=policy.default)
            mailbox.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                     "subject": str(message["subject"]), "body": message.get_content()})
            return "250 Message accepted for delivery"

    mailbox = Mailbox("127.0.0.1", free_port())
    controller = Controller(Collect(), hostname=mailbox.host, port=mailbox.port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"  # pytest-django's default keeps mail in memory
    settings.EMAIL_HOST, settings.EMAIL_PORT = mailbox.host, mailbox.port
    settings.ALERTS_FROM_EMAIL = "alerts@portal.test"
    try:
        yield mailbox
    finally:
        controller.stop()


@dataclass
class Receiver:
    url: str
    answers: list[int] = field(default_factory=list)  # statuses to answer, in order; 200 once they run out
    requests: list[dict] = field(default_factory=list)

    def wait(self, count: int, timeout: float = 10.0) -> list[dict]:
        from tests.conftest import wait_for

        wait_for(lambda: len(self.requests) >= count, what=f"{count} webhook request(s)", timeout=timeout)
        return self.requests


@pytest.fixture
def webhook_receiver():
    """An HTTP server in a thread, recording each POST (headers and raw body) and answering the scripted statuses."""
    port = free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}/hooks/portal")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                status = receiver.answers.pop(0) if receiver.answers else 200
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                          "status": status})
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"ok": status == 200}).encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def eager_tasks():
    """Celery tasks run in this process when sent (a retry runs again at once, its countdown skipped). Errors are not
    propagated, as in a worker: Celery's eager retry needs that (tests assert what the tasks wrote instead)."""
    from portal.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    try:
        yield app
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def committed(django_capture_on_commit_callbacks, eager_tasks):
    """``with committed():`` runs what would happen after commit (the job_ended hook's evaluation, the messages'
    deliveries), as a real commit does; the test's own transaction still rolls everything back."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def evaluate(committed):
    """evaluate() runs the beat's evaluation task once, with its deliveries."""
    from alerts.tasks import evaluate as evaluate_task

    def _evaluate():
        with committed():
            result = evaluate_task.apply().get()
        return result

    return _evaluate


@pytest.fixture
def lab_faults(vm_lab):
    """Faults of the session's lab fabric (``vm_lab``), cleared when the test ends."""
    yield vm_lab.set_faults
    vm_lab.clear_faults()
