"""Settings for the 产改 check-in portal.

One module for every environment: everything that differs between a laptop demo and a
production deployment comes from environment variables (see README "Configuration").
With no DATABASE_URL the portal uses an SQLite file and with no REDIS_URL Celery runs
tasks eagerly in-process: a zero-setup first look. Production is Postgres + Redis + a worker.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
FALSE_VALUES = frozenset({"0", "false", "no", "off", ""})


def env_bool(name, default=False):
    """The boolean environment variable `name` (`default` when unset). A value it does not know is
    an error, not False: DEBUG=ture or SECURE_SSL_REDIRECT=enabled must not quietly mean off."""
    value = os.environ.get(name)
    if value is None:
        return default
    normalised = value.strip().lower()
    if normalised in TRUE_VALUES:
        return True
    if normalised in FALSE_VALUES:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean: use 1, true, yes or on, or 0, false, no, off or an empty value."
    )


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# With DEBUG on, errors show the portal's own Chinese 404/500 pages (the demo, `make run`); set
# DEBUG_TECHNICAL_ERRORS=1 for Django's technical pages with the traceback. No effect without DEBUG.
DEBUG_TECHNICAL_ERRORS = env_bool("DEBUG_TECHNICAL_ERRORS", False)

# A fixed key is only acceptable for the local demo; production must set SECRET_KEY.
SECRET_KEY = os.environ.get("SECRET_KEY") or (
    "insecure-demo-key-only-for-local-use" if DEBUG else None
)
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "import_export",
    "rest_framework",
    # API tokens (api/authentication.py): stored hashed, expiring, revocable.
    "api.apps.KnoxConfig",  # knox under a Chinese name in the admin
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # Before accounts, whose admin replaces axes' AccessAttempt admin.
    "accounts.apps.AxesConfig",  # axes under a Chinese name in the admin
    "csp",
    # Below every app whose POSTs it makes safe to retry (tasks, api).
    "idempotency",
    # The layers, bottom to top (pyproject.toml's import contract enforces them): an app
    # imports only from apps listed before it here.
    "enterprises",
    "notifications",
    "accounts",
    "tasks",
    "scoring",
    "notices",
    "spreadsheets",
    "demo",
    "dashboards",
    "api",
]

MIDDLEWARE = [
    # First, so that it sees every response: with DEBUG on, the portal's error pages, not Django's.
    "chanjgai_portal.error_views.PortalErrorPagesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads a body: the API's body limits (413 without reading it).
    "api.middleware.ApiBodyLimitMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.security.PasswordChangeRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "chanjgai_portal.middleware.DomainErrorMiddleware",
    # Last, as django-axes documents: turns a login refused by a lockout into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "chanjgai_portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "enterprises.context_processors.current_profile",
                "accounts.context_processors.display_preferences",
                "notifications.context_processors.unread_notifications",
                "tasks.context_processors.review_queue_count",
            ],
        },
    },
]

WSGI_APPLICATION = "chanjgai_portal.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and os.environ.get("DB_JIT", "0") != "1":
    # PostgreSQL's JIT compiles any query whose estimated cost passes jit_above_cost; for a
    # page's queries the compiling costs more than it saves. At 100,000 enterprises the city's
    # enterprise list spent 553 ms of 1,293 in JIT (0.77 s without it); the full ranking
    # recompute is no slower (1.90 s median without, 1.99 s with). DB_JIT=1 keeps it on.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's validators come with zh_Hans messages (the length rule's through accounts.security);
# the demo password is too short for them.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "accounts.security.MinimumLengthValidator",
        "OPTIONS": {"min_length": int(os.environ.get("PASSWORD_MIN_LENGTH", "10"))},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Django's default hashers, plus the cheaper one of random one-time initial passwords
# (accounts/hashers.py), which a first login upgrades to the default one.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "accounts.hashers.InitialPasswordHasher",
]
# How long an office may download the account sheet of the initial passwords it issued
# (accounts.onboarding); a beat job deletes it after that, "handed out" at once.
ACCOUNT_SHEET_HOURS = int(os.environ.get("ACCOUNT_SHEET_HOURS", "24"))
# 忘记密码: at most this many requests an hour from one address, and mails for one account;
# an e-mailed link works for PASSWORD_RESET_TIMEOUT seconds.
PASSWORD_RESET_PER_ADDRESS = int(os.environ.get("PASSWORD_RESET_PER_ADDRESS", "5"))
PASSWORD_RESET_PER_ACCOUNT = int(os.environ.get("PASSWORD_RESET_PER_ACCOUNT", "3"))
PASSWORD_RESET_TIMEOUT = int(os.environ.get("PASSWORD_RESET_TIMEOUT", str(24 * 3600)))

# The password seed_demo gives the demo accounts: outside DEBUG (REFUSE_DEMO_PASSWORD) a
# browser login with it must change it first, and the API refuses it (accounts/security.py).
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "demo12345")
REFUSE_DEMO_PASSWORD = env_bool("REFUSE_DEMO_PASSWORD", not DEBUG)

# The axes backend refuses a locked-out username + address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend that loads the profile with the user (one query per request, not two).
    "enterprises.auth.PortalModelBackend",
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# The UI language is the deployment's choice, not the browser's: an English-language
# browser on a county office PC must still see the Chinese UI (no LocaleMiddleware).
LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))

# Evidence files are enterprises' internal documents: they live outside the static tree
# and are only served through a permission-checked view (tasks.views.download_evidence).
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = None

FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# The largest body an API request without credentials may send (the token endpoint's is a
# username and a password): refused with 413 before it is read (api/middleware.py).
API_ANONYMOUS_MAX_BODY_SIZE = int(os.environ.get("API_ANONYMOUS_MAX_BODY_SIZE", 64 * 1024))
EVIDENCE_MAX_FILE_SIZE = int(os.environ.get("EVIDENCE_MAX_FILE_SIZE", 20 * 1024 * 1024))
EVIDENCE_MAX_FILES = int(os.environ.get("EVIDENCE_MAX_FILES", 10))
# The evidence limits are enforced while the body streams in (tasks/upload_handlers.py), so an
# oversized upload is stopped before it lands whole in memory or on disk. Django's own file
# count limit is one above ours: our handler refuses the extra file first, with a message.
FILE_UPLOAD_HANDLERS = [
    "tasks.upload_handlers.EvidenceLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    # Instead of Django's TemporaryFileUploadHandler: its temporary file has no name on disk,
    # so a worker killed mid-upload leaves nothing behind; a full disk is a 507 refusal.
    "tasks.upload_handlers.CleanTemporaryFileUploadHandler",
]
# Uploads larger than FILE_UPLOAD_MAX_MEMORY_SIZE spool here: on the media volume (sized for
# files), not in /tmp (often small, or RAM). Created when first needed; the evidence
# housekeeping removes anything older than EVIDENCE_STAGING_KEEP_HOURS left in it, and
# scripts/backup.sh leaves it out.
FILE_UPLOAD_TEMP_DIR = os.environ.get("FILE_UPLOAD_TEMP_DIR") or str(MEDIA_ROOT / ".upload-tmp")
try:
    os.makedirs(FILE_UPLOAD_TEMP_DIR, exist_ok=True)  # Django's checks refuse a missing one
except OSError:
    pass  # a read-only or absent volume: the check (files.E001) names the folder at start
# An evidence file is written under its final name with a staging row (tasks.StagedEvidenceFile)
# committed first; the row goes when the check-in commits. A staged file whose submission
# never committed (a killed worker) is deleted by the housekeeping this many hours later.
EVIDENCE_STAGING_KEEP_HOURS = float(os.environ.get("EVIDENCE_STAGING_KEEP_HOURS", "24"))
DATA_UPLOAD_MAX_NUMBER_FILES = EVIDENCE_MAX_FILES + 1
# e.g. "/protected-media/": downloads answer with X-Accel-Redirect and nginx sends the file
# from an `internal` location aliased to MEDIA_ROOT (local storage only).
EVIDENCE_X_ACCEL_PREFIX = os.environ.get("EVIDENCE_X_ACCEL_PREFIX", "").strip()
# Evidence previews (tasks.previews), made by a job after the check-in commits: a PDF's first
# EVIDENCE_PREVIEW_MAX_PAGES pages become page images (the rest: download the file); an image
# larger than EVIDENCE_PREVIEW_MAX_PIXELS (a decompression bomb) gets no preview.
EVIDENCE_PREVIEW_MAX_PAGES = int(os.environ.get("EVIDENCE_PREVIEW_MAX_PAGES", "50"))
EVIDENCE_PREVIEW_MAX_PIXELS = int(os.environ.get("EVIDENCE_PREVIEW_MAX_PIXELS", str(60_000_000)))


def file_storage(environ):
    """Django's default storage (evidence, notice attachments, export files) from the environment.

    EVIDENCE_STORAGE=local (the default) keeps them under MEDIA_ROOT; EVIDENCE_STORAGE=s3 puts
    them in an S3-compatible bucket (MinIO, Ceph, a cloud's object storage) that several web
    servers and workers share. Either way they are private: the bucket gets no public ACL and
    no signed URLs, because every download goes through the permission-checked views.
    """
    kind = (environ.get("EVIDENCE_STORAGE") or "local").strip().lower()
    if kind == "local":
        # FileSystemStorage that fsyncs and never leaves a partial file (a full disk, a kill).
        return {"BACKEND": "chanjgai_portal.storage.DurableFileSystemStorage"}
    if kind != "s3":
        raise RuntimeError(f"EVIDENCE_STORAGE must be 'local' or 's3', not {kind!r}.")
    bucket = (environ.get("AWS_STORAGE_BUCKET_NAME") or "").strip()
    if not bucket:
        raise RuntimeError("AWS_STORAGE_BUCKET_NAME must be set when EVIDENCE_STORAGE=s3.")
    from botocore.config import Config

    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": environ.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": environ.get("AWS_S3_REGION_NAME") or "us-east-1",
            # None: boto3's own chain (instance role, ~/.aws) when no key is given.
            "access_key": environ.get("AWS_ACCESS_KEY_ID") or None,
            "secret_key": environ.get("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": None,
            "querystring_auth": False,
            # Generated names never collide; a name that did must not replace someone's evidence.
            "file_overwrite": False,
            # A download is buffered before it is served: spill to disk past 2 MB, not to RAM.
            "max_memory_size": 2 * 1024 * 1024,
            # Path-style (http://host/bucket/key) suits MinIO and needs no wildcard DNS;
            # short timeouts so an unreachable store fails a request instead of hanging it.
            "client_config": Config(
                s3={"addressing_style": environ.get("AWS_S3_ADDRESSING_STYLE") or "path"},
                signature_version="s3v4",
                connect_timeout=5,
                read_timeout=60,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        },
    }


EVIDENCE_STORAGE = (os.environ.get("EVIDENCE_STORAGE") or "local").strip().lower()
STORAGES = {
    "default": file_storage(os.environ),
    # CSS, JS and images stay on local disk (collectstatic, served by nginx) either way.
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Transport and browser security (manage.py check --deploy is clean outside DEBUG) ------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("BEHIND_TLS_PROXY", False):
    # Set only when a reverse proxy terminates TLS and sets this header itself.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# How many reverse proxies stand in front of gunicorn, each appending its peer's address to
# X-Forwarded-For (nginx alone: 1; a TLS terminator in front of nginx: 2). Login throttles
# and lockouts key on the address the outermost proxy saw; entries a client wrote further
# left are ignored, so it cannot choose a new address per attempt.
PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "1" if env_bool("BEHIND_TLS_PROXY", False) else "0"))

# --- Login lockout (django-axes): every login path, the browser form and the API token -------
# Locked per username AND address, never per address alone: a county office's whole staff
# shares one address. The city office unlocks (accounts/security.py: unlock_user).
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "20")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.security.lockout_response"
AXES_USERNAME_CALLABLE = "accounts.security.axes_username"
AXES_VERBOSE = False
# A failed attempt's POST data is kept in AccessAttempt: mask the password change form's
# fields (it counts wrong current passwords as failed logins) besides axes' own defaults.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "old_password", "new_password1", "new_password2"]
# The client address as django-axes documents it (django-ipware): behind PROXY_COUNT proxies
# the address is X-Forwarded-For's entry PROXY_COUNT - 1 from the right (nginx appends its
# peer; the last proxy itself is REMOTE_ADDR); not strict, so extra entries a client
# prepended are ignored rather than making the header unusable.
if PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR",)
    AXES_IPWARE_PROXY_ORDER = "left-most"
    AXES_IPWARE_PROXY_COUNT = PROXY_COUNT - 1
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
IPWARE_STRICT = False

# --- Content Security Policy (django-csp 4) -------------------------------------------------
# No inline scripts anywhere: pages load static/js files. ECharts' tooltips carry style=""
# attributes, so inline style *attributes* are allowed, <style> elements are not. The API
# docs page (Swagger UI) gets its own relaxation in api/urls.py.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- REST API (api/) -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # JSON with a depth limit and no lone surrogates or NaN (api/parsers.py), forms, uploads.
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.PortalJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # drf-spectacular's AutoSchema plus the error responses every operation can give.
    "DEFAULT_SCHEMA_CLASS": "api.schema.PortalAutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"login": os.environ.get("API_LOGIN_THROTTLE", "10/min")},
    # Throttles key on the client address: trust X-Forwarded-For only as far as our own
    # reverse proxy (one hop) sets it, or a client could pick a new address per attempt.
    "NUM_PROXIES": PROXY_COUNT,
}
# API tokens (django-rest-knox; api/authentication.py, accounts/security.py). A token
# unused for API_TOKEN_IDLE_HOURS expires: each use moves its expiry to now + that (written at
# most once a minute), never past API_TOKEN_MAX_DAYS after it was issued. Tokens are stored
# as SHA-512 digests, sent as `Authorization: Token <key>` as before, and revoked on logout,
# on a password change or reset, and by the city office (unlock page, Profile admin).
API_TOKEN_IDLE_HOURS = float(os.environ.get("API_TOKEN_IDLE_HOURS", "8"))
API_TOKEN_MAX_DAYS = float(os.environ.get("API_TOKEN_MAX_DAYS", "30"))
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=API_TOKEN_IDLE_HOURS),
    "AUTO_REFRESH": True,
    "AUTO_REFRESH_MAX_TTL": timedelta(days=API_TOKEN_MAX_DAYS),
    "MIN_REFRESH_INTERVAL": 60,
    "AUTH_HEADER_PREFIX": "Token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "产改打卡管理系统 API",
    "DESCRIPTION": "Check-in workflow, task library and rankings of the 产改 portal.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Intranets have no CDN: Swagger UI and Redoc are served from drf-spectacular-sidecar.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One named enum per domain choice set, so that states keep their names in the schema.
    "ENUM_NAME_OVERRIDES": {
        "CheckInStateEnum": "tasks.models.CheckInState",
        "AssignmentStateEnum": "tasks.models.AssignmentState",
        "ReviewActionEnum": "tasks.models.ReviewEvent.Action",
        "RoleEnum": "enterprises.models.Profile.Role",
        "RegionLevelEnum": "enterprises.models.Region.Level",
        "SizeClassEnum": "enterprises.models.Enterprise.SizeClass",
        "OwnershipEnum": "enterprises.models.Enterprise.Ownership",
        "PilotLevelEnum": "enterprises.models.Enterprise.PilotLevel",
        "IndicatorCategoryEnum": "tasks.models.Indicator.Category",
        "IndicatorTargetEnum": "tasks.models.Indicator.Target",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_field_errors",
    ],
}

# --- Celery -------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# Without a broker the demo runs every job inline, so `make run` needs no Redis.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
# Every job is idempotent (a recompute, an e-mail from its outbox row, an export that is done
# or claimed), so redelivery after a worker crash is safe and wanted: a job is acknowledged
# when it has finished, and one whose worker process died is given out again
# (reject_on_worker_lost; a whole worker killed: after CELERY_VISIBILITY_TIMEOUT, below).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Enqueueing must never hang a web request when Redis is stopped, hung (SIGSTOP: the kernel
# still accepts the TCP connection, nothing ever answers) or unreachable: request paths
# publish through chanjgai_portal.broker, on connections whose sockets time out after
# REDIS_TIMEOUT seconds, once, without kombu's retries, and then stop trying for
# BROKER_BACKOFF seconds. What was to be enqueued is in PostgreSQL and a beat sweep runs it.
# The workers' own connections keep no read timeout: they wait out a hung Redis (with one,
# a worker whose ack timed out stopped consuming); kombu's health checks cover dead peers.
REDIS_TIMEOUT = float(os.environ.get("REDIS_TIMEOUT", "1"))
BROKER_BACKOFF = float(os.environ.get("BROKER_BACKOFF", "5"))
# How long a job a worker has taken (acks_late: not yet acknowledged) may stay unfinished
# before Redis gives it to another worker. kombu's default is 3600 s: after a whole worker was
# killed (kill -9, OOM, a lost machine) its jobs waited an hour. It must stay above the
# longest job's run time plus its countdown, or a job still running is started a second time:
# the longest measured are an export of 100,000 rows (about 4 s, bench/RESULTS.md "Exports"),
# a full recompute of 100,000 enterprises (about 2 s) and the deadline reminders of a
# province (seconds); e-mail jobs are bounded by EMAIL_TIMEOUT per message. 300 s leaves
# them a wide margin and bounds the wait after a crash to about five minutes; every job is
# idempotent, and what is recorded in PostgreSQL (rankings, e-mails, exports) is swept sooner.
CELERY_VISIBILITY_TIMEOUT = int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "300"))
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": REDIS_TIMEOUT,
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # The worker looks for jobs of dead workers every unacked_restore_interval seconds
    # (throttle 1: every look scans), so one is redelivered at most ~10 s after its timeout.
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
    # Connecting: two quick retries (request paths: none, chanjgai_portal.broker).
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
}
# Every job ends before the visibility timeout could hand it to a second worker: a job
# over its soft limit gets SoftTimeLimitExceeded (and fails, acknowledged; what it was doing
# is in PostgreSQL for the sweeps), one still running at the hard limit is killed.
CELERY_TASK_SOFT_TIME_LIMIT = int(os.environ.get("CELERY_TASK_SOFT_TIME_LIMIT", CELERY_VISIBILITY_TIMEOUT * 8 // 10))
CELERY_TASK_TIME_LIMIT = int(os.environ.get("CELERY_TASK_TIME_LIMIT", CELERY_VISIBILITY_TIMEOUT * 9 // 10))
# No result backend today; should one be set on Redis, it gets the same short timeouts.
CELERY_REDIS_SOCKET_TIMEOUT = REDIS_TIMEOUT
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = REDIS_TIMEOUT
# Ranking jobs have their own queue, so a fresh ranking never waits behind the notification
# e-mails its own scores queued, or behind a long export (a burst of 1,000 scores queues
# 1,000 e-mail jobs). A worker started without -Q consumes both queues; production runs
# one worker per queue (docker-compose.yml).
CELERY_TASK_QUEUES = (Queue("celery"), Queue("rankings"))
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "scoring.recompute_rankings": {"queue": "rankings"},
    "scoring.full_recompute": {"queue": "rankings"},
    "scoring.sweep_pending_recomputes": {"queue": "rankings"},
}

# Ranking jobs: a burst of scores runs at most one job per RANKING_MIN_INTERVAL seconds
# per period; the beat sweep applies changes older than RANKING_SWEEP_GRACE seconds that
# no job picked up (e.g. scored while Redis was down).
RANKING_MIN_INTERVAL = float(os.environ.get("RANKING_MIN_INTERVAL", "0.5"))
RANKING_SWEEP_GRACE = float(os.environ.get("RANKING_SWEEP_GRACE", "5"))
# Postgres work_mem for ranking jobs only: a province's window sorts fit in memory.
RANKING_WORK_MEM = os.environ.get("RANKING_WORK_MEM", "64MB")
# Seconds between the housekeeping sweeps (stale uploads, old exports, staged files, expired
# tokens, old idempotency keys).
HOUSEKEEPING_EVERY = float(os.environ.get("HOUSEKEEPING_EVERY", "3600"))
CELERY_BEAT_SCHEDULE = {
    "sweep-pending-ranking-changes": {
        "task": "scoring.sweep_pending_recomputes",
        "schedule": float(os.environ.get("RANKING_SWEEP_EVERY", "10")),
    },
    "send-deadline-reminders": {
        "task": "notices.send_deadline_reminders",
        "schedule": float(os.environ.get("DEADLINE_REMINDERS_EVERY", "3600")),
    },
    "discard-stale-import-uploads": {
        "task": "enterprises.discard_stale_import_uploads",
        "schedule": HOUSEKEEPING_EVERY,
    },
    "remove-old-export-files": {
        "task": "scoring.remove_old_export_files",
        "schedule": HOUSEKEEPING_EVERY,
    },
    # Staged files of submissions that never committed, and leftovers in FILE_UPLOAD_TEMP_DIR.
    "sweep-staged-evidence-files": {
        "task": "tasks.sweep_staged_evidence_files",
        "schedule": HOUSEKEEPING_EVERY,
    },
    # Files no row names and rows whose file is gone, logged as warnings (reads the whole
    # storage: once a day by default).
    "audit-evidence-files": {
        "task": "tasks.audit_evidence_files",
        "schedule": float(os.environ.get("EVIDENCE_AUDIT_EVERY", "86400")),
    },
    "delete-expired-api-tokens": {
        "task": "enterprises.delete_expired_api_tokens",
        "schedule": HOUSEKEEPING_EVERY,
    },
    "delete-expired-account-sheets": {
        "task": "accounts.delete_expired_account_sheets",
        "schedule": HOUSEKEEPING_EVERY,
    },
    "remove-old-idempotency-keys": {
        "task": "idempotency.remove_old_keys",
        "schedule": HOUSEKEEPING_EVERY,
    },
    # Daily digests (notifications.digests, tasks.digest): the jobs run every hour and send
    # each user's digest once a day, from EMAIL_DIGEST_HOUR / REVIEW_DIGEST_HOUR local time.
    "send-email-digests": {
        "task": "notifications.send_email_digests",
        "schedule": float(os.environ.get("DIGESTS_EVERY", "3600")),
    },
    "send-review-digests": {
        "task": "tasks.send_review_digests",
        "schedule": float(os.environ.get("DIGESTS_EVERY", "3600")),
    },
    # The notification e-mails no job sent (Redis down, a job lost) and those due for a retry.
    "send-due-emails": {
        "task": "notices.send_due_emails",
        "schedule": float(os.environ.get("OUTBOX_SWEEP_EVERY", "60")),
    },
    # Export jobs recorded but never started (their enqueue failed or was lost).
    "sweep-pending-exports": {
        "task": "scoring.sweep_pending_exports",
        "schedule": float(os.environ.get("EXPORT_SWEEP_EVERY", "60")),
    },
    "sweep-pending-import-previews": {
        "task": "spreadsheets.sweep_pending_import_previews",
        "schedule": float(os.environ.get("EXPORT_SWEEP_EVERY", "60")),
    },
    # Evidence previews whose job was never enqueued (tasks.previews).
    "sweep-pending-previews": {
        "task": "tasks.sweep_pending_previews",
        "schedule": float(os.environ.get("PREVIEW_SWEEP_EVERY", "300")),
    },
}
# Notification e-mails (notifications/outbox.py): a failed send is tried again OUTBOX_RETRY_BASE
# seconds later, doubling each time up to OUTBOX_RETRY_MAX, at most OUTBOX_MAX_ATTEMPTS times.
# OUTBOX_RETRY_BASE is also how long a sender holds a row it took: keep it above the time
# one send can take (EMAIL_TIMEOUT per SMTP step).
OUTBOX_RETRY_BASE = float(os.environ.get("OUTBOX_RETRY_BASE", "60"))
OUTBOX_RETRY_MAX = float(os.environ.get("OUTBOX_RETRY_MAX", "3600"))
OUTBOX_MAX_ATTEMPTS = int(os.environ.get("OUTBOX_MAX_ATTEMPTS", "10"))
OUTBOX_SWEEP_BATCH = int(os.environ.get("OUTBOX_SWEEP_BATCH", "1000"))
# Local hours from which the daily digests go out: the e-mail digest of the day's
# notifications (users who chose it) in the evening, the reviewers' "new items waiting"
# digest in the morning.
EMAIL_DIGEST_HOUR = int(os.environ.get("EMAIL_DIGEST_HOUR", "18"))
REVIEW_DIGEST_HOUR = int(os.environ.get("REVIEW_DIGEST_HOUR", "8"))
# Tries to record "sent" across a database restart (about 30 s in all), so that an e-mail
# the SMTP server took is not sent again.
OUTBOX_RECORD_ATTEMPTS = 7
# An export job still queued (never started) this many seconds after it was requested is
# enqueued again by the sweep.
EXPORT_SWEEP_GRACE = float(os.environ.get("EXPORT_SWEEP_GRACE", "120"))
# Housekeeping: an uploaded sheet that was previewed but never imported is deleted this many
# hours after the upload; an export's file this many days after it was written (the job's
# row stays, and the sheet can be exported again).
IMPORT_UPLOADS_KEEP_HOURS = int(os.environ.get("IMPORT_UPLOADS_KEEP_HOURS", "24"))
EXPORT_FILES_KEEP_DAYS = int(os.environ.get("EXPORT_FILES_KEEP_DAYS", "7"))
# How long a POST's Idempotency-Key (or a form's hidden token) is remembered: a retry within
# this many hours gets the first answer; later the key is forgotten (idempotency.remove_old_keys).
IDEMPOTENCY_KEYS_KEEP_HOURS = int(os.environ.get("IDEMPOTENCY_KEYS_KEEP_HOURS", "24"))

# --- Email (notifications) ----------------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
# Only for EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend (bench/faults.py).
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH") or None
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "noreply@localhost")
EMAIL_SUBJECT_PREFIX = os.environ.get("EMAIL_SUBJECT_PREFIX", "[产改] ")
# Prefixed to the portal paths in notification emails, e.g. https://chanjgai.example.gov.cn
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "")

# --- Caches -----------------------------------------------------------------------
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- django-filter ----------------------------------------------------------------
# A filter's blank choice means "no filter": 全部, never Django's "---------".
FILTERS_EMPTY_CHOICE_LABEL = _("All")

# --- django-import-export ---------------------------------------------------------
IMPORT_EXPORT_USE_TRANSACTIONS = True
# The resources escape = + - @ themselves (spreadsheets/cells.py): the built-in
# escaping of 4.4 turns every cell, numbers included, into text.
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = False
IMPORT_EXPORT_ESCAPE_ILLEGAL_CHARS_ON_EXPORT = True
IMPORT_EXPORT_IMPORT_IGNORE_BLANK_LINES = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
