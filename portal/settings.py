"""Settings for the portal, read from the environment (see README, "Configuration")."""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.env import (
    env_bool,
    env_int,
    env_list,
    env_optional_str,
    env_path,
    env_proxy_ssl_header,
    env_str,
    private_dir,
    private_file,
    secret_key,
)
from portal.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
# The database, the secret key, the admin's first password and the certificates live here: owner only (0700),
# tightened at every start for an install made before that rule.
VAR_DIR = private_dir(env_path("VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = secret_key(VAR_DIR)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
PORT = env_int("PORT", 8000, minimum=1, maximum=65535)
FABRIC_PORT = env_int("FABRIC_PORT", 8100, minimum=1, maximum=65535)
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
# Vault stores (chunks and manifests): one directory per vault; every worker must mount it.
VAULT_STORE_DIR = env_path("VAULT_STORE_DIR", VAR_DIR / "vaults")
# Where management certificates of subscriptions are kept (mode 0600).
CERTIFICATE_DIR = VAR_DIR / "certificates"
# The bundled lab fabric, registered as "Lab subscription" by `make run`.
# How long registration waits for the extension, and how often jobs poll the fabric.
REGISTER_TIMEOUT_SECONDS = env_int("REGISTER_TIMEOUT_SECONDS", 120, minimum=1)
FABRIC_POLL_SECONDS = float(env_int("FABRIC_POLL_MS", 500, minimum=10)) / 1000
# How long a backup waits for the VM agent's snapshot before UserErrorVmAgentSnapshotTimedOut.
BACKUP_SNAPSHOT_TIMEOUT_SECONDS = env_int("BACKUP_SNAPSHOT_TIMEOUT_SECONDS", 600, minimum=1)
# Threads per backup or restore transfer: page-blob reads wait on the network, so more threads than cores keep
# the cores busy (measured with bench/backup.py on 2 cores: 2 -> 6 cut restore by a third).
VAULT_STORE_WORKERS = env_int("VAULT_STORE_WORKERS", 6, minimum=1, maximum=64)
LAB_SUBSCRIPTION_ID = env_str("LAB_SUBSCRIPTION_ID", "6d1f2c7a-3b4e-4f5a-9c8d-1a2b3c4d5e6f")
# The key that wraps the vaults' data keys: from the environment, else kept in MASTER_KEY_FILE. Never logged.
MASTER_KEY = env_optional_str("PORTAL_MASTER_KEY")
MASTER_KEY_FILE = VAR_DIR / "master.key"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "axes",
    "portal",
    "vaults",
    "jobs",
    "fabric",
    "alerts",
    "monitoring",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # WhiteNoise, with an asynchronous body under ASGI (portal/staticfiles.py).
    "portal.staticfiles.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After the session, before CommonMiddleware: the language from the cookie or Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A signed-in user's saved language wins over the browser's (portal.language.UserLanguageMiddleware).
    "portal.language.UserLanguageMiddleware",
    # Every view requires a signed-in user unless it opts out explicitly.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Turns a locked-out sign-in into the login page that says so (portal.signin.lockout_response).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["template_partials.templatetags.partials"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context.shell",
            ],
        },
    },
]

_DEFAULT_DB = f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(env_str("DATABASE_URL", _DEFAULT_DB), conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; IMMEDIATE takes the
    # write lock at BEGIN so two writers queue on the busy timeout instead of
    # failing with "database is locked" half-way through a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # Browser and integration tests share the test database with a server and
    # a worker in other processes, so it is a file, never :memory:.
    # One per test run, so two runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-portal-{os.getpid()}.sqlite3")}
    # It holds the sessions and the password hashes: the owner's only (0600), a file of an older install too.
    _SQLITE_NAME = str(DATABASES["default"]["NAME"] or "")
    if _SQLITE_NAME and not _SQLITE_NAME.startswith((":memory:", "file:")):
        private_file(Path(_SQLITE_NAME))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "vaults:list"
LOGOUT_REDIRECT_URL = "login"

# Sign-in throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one user name from one address,
# that pair is refused for LOGIN_LOCKOUT_MINUTES. By the pair, so that guessing from one address cannot lock the
# administrator out everywhere. `manage.py axes_reset_username NAME` lifts a lockout early.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "portal.signin.lockout_response"
AXES_VERBOSE = False  # no banner on every start of every process

# English and Korean (README, "Languages"): the browser's Accept-Language chooses, the top bar's switch overrides it
# and is kept on the user (portal.language). Catalogues: locale/ (templates, portal) and each app's locale/.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
# Dates and times in each language's own order (portal/formats/<lang>/formats.py); the English ones keep the
# classic portal's "n/j/Y g:i:s A".
FORMAT_MODULE_PATH = ["portal.formats"]
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# Files served at the site's root, such as /favicon.ico (browsers ask for it whatever the page links).
WHITENOISE_ROOT = BASE_DIR / "static" / "root"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # HTMX reads the token from the page, not the cookie.
X_FRAME_OPTIONS = "DENY"
# Behind a TLS proxy (README, "Running behind a TLS proxy"): cookies only over HTTPS, HSTS, and the header by
# which the proxy says the client used HTTPS. All off by default, for plain http://127.0.0.1 under `make run`.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_PROXY_SSL_HEADER = env_proxy_ssl_header("SECURE_PROXY_SSL_HEADER")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Celery: Redis is both broker and result backend. Tasks are given ids, never
# model instances; acks_late stays off because our jobs are long and a broker
# redelivery would run them twice (the reconciler handles dead workers).
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Job messages go to this queue (workers started without -Q consume it); a second deployment on the
# same Redis, or a test run, sets its own so neither takes the other's work.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
# The control queue: the reconciler and the scheduler's tick, run by a worker of their own (``manage.py
# control_worker``) so that long transfers filling the job workers never hold them up.
CONTROL_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}-control"
# A job worker (`manage.py job_worker`, the `worker` process): the queues it consumes, "data" (the jobs: transfers,
# registrations...) and/or "control" (what the control worker runs); its Celery name, WORKER_NAME@<host>, which
# Job.worker records; its pool processes. Several workers on one host need different names.
WORKER_QUEUES = env_list("WORKER_QUEUES", ["data"])
WORKER_NAME = env_str("WORKER_NAME", "worker")
WORKER_CONCURRENCY = env_int("WORKER_CONCURRENCY", 2, minimum=1, maximum=64)
# Prefix of the live-event channels on Redis, for the same reason.
EVENTS_CHANNEL_PREFIX = env_str("EVENTS_CHANNEL_PREFIX", "")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    # Fails jobs whose worker died (stale heartbeat) and re-sends jobs whose message was lost.
    "jobs-reconcile": {"task": "jobs.reconcile", "schedule": 5.0, "options": {"queue": CONTROL_QUEUE, "expires": 5.0}},
    # Starts due scheduled backups; each slot is claimed once in the database, so overlapping ticks are harmless.
    "vaults-schedule-backups": {"task": "vaults.schedule_backups", "schedule": 60.0,
                                "options": {"queue": CONTROL_QUEUE, "expires": 60.0}},
    # The vault's own jobs: Retention (daily), Garbage Collection (daily), Verify (weekly), for every vault.
    "vaults-daily-retention": {"task": "vaults.daily_retention", "schedule": 86400.0},
    "vaults-daily-gc": {"task": "vaults.daily_gc", "schedule": 86400.0},
    "vaults-weekly-verify": {"task": "vaults.weekly_verify", "schedule": 7 * 86400.0},
    # Alerts: every vault's rules evaluated each minute; their messages are tasks of their own (alerts.tasks).
    "alerts-evaluate": {"task": "alerts.evaluate", "schedule": 60.0, "options": {"queue": CONTROL_QUEUE, "expires": 60.0}},
}
# Extra task modules a worker imports (comma-separated), e.g. the test suite's job tasks.
CELERY_IMPORTS = env_list("CELERY_IMPORTS", [])
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Alerts by email: the SMTP server Django's mail uses (README, "Alerts"). The password is never logged or shown.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "recovery-portal@localhost")
ALERTS_FROM_EMAIL = env_str("ALERTS_FROM_EMAIL", DEFAULT_FROM_EMAIL)
# The address messages link to (the vault's ALERTS tab): the name people type, behind the TLS proxy if there is one.
ALERTS_PORTAL_URL = env_str("ALERTS_PORTAL_URL", f"http://127.0.0.1:{PORT}").rstrip("/")
# A failed delivery is tried again after ALERTS_RETRY_SECONDS, then twice as long each time, ALERTS_ATTEMPTS in all.
ALERTS_RETRY_SECONDS = env_int("ALERTS_RETRY_SECONDS", 30, minimum=1)
ALERTS_ATTEMPTS = env_int("ALERTS_ATTEMPTS", 6, minimum=1, maximum=20)

# Every process logs in one format (portal/logs.py): LOG_FORMAT=plain for people, json for a log collector; both
# carry a timestamp (UTC), the level, the logger and the running job's id. Celery leaves it alone (portal/celery.py).
try:
    LOGGING = logging_config(env_str("LOG_FORMAT", "plain").strip().lower(), env_str("LOG_LEVEL", "INFO"))
except ValueError as error:
    raise ImproperlyConfigured(str(error)) from None
# /metrics (monitoring/): a scraper presents METRICS_TOKEN as a bearer token, or comes from an address in
# METRICS_ALLOW. /healthz counts the workers as up while one was seen within HEALTHZ_WORKER_SECONDS.
METRICS_TOKEN = env_optional_str("METRICS_TOKEN")
try:
    METRICS_ALLOW = [ipaddress.ip_network(entry, strict=False)
                     for entry in env_list("METRICS_ALLOW", ["127.0.0.1/32", "::1/128"])]
except ValueError as error:
    raise ImproperlyConfigured(f"METRICS_ALLOW: {error}; use comma-separated addresses or networks.") from None
HEALTHZ_WORKER_SECONDS = env_int("HEALTHZ_WORKER_SECONDS", 30, minimum=1)
