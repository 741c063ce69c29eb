"""Settings for the test suite: its own VAR_DIR and Redis database, fast password hashing."""

from __future__ import annotations

import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("VAR_DIR", str(_ROOT / "var" / "test"))
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
# Workers in the suite give up on a silent VM agent in seconds, not minutes, and poll the fabric often.
# Each run has its own job queue and event channels, so two runs on one Redis never take each other's work.
# Workers the suite starts inherit these from the environment.
os.environ.setdefault("CELERY_QUEUE", f"test-{os.getpid()}")
os.environ.setdefault("EVENTS_CHANNEL_PREFIX", f"test-{os.getpid()}:")
os.environ.setdefault("REGISTER_TIMEOUT_SECONDS", "4")
os.environ.setdefault("FABRIC_POLL_MS", "100")

from portal.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Sign-in throttling (django-axes) stays on in the suite, as in production, so the lockout tests run against the
# real login view. force_login() needs nothing; authenticate() and client.login() need the request axes counts
# by, as its docs advise: client.login(request=HttpRequest(), username=..., password=...).
