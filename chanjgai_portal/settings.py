"""Settings for the 产改 check-in portal.

One module for every environment: everything that differs between a laptop demo and a
production deployment comes from environment variables (see README "Configuration").
With no DATABASE_URL the portal uses an SQLite file and with no REDIS_URL Celery runs
tasks eagerly in-process: a zero-setup first look. Production is Postgres + Redis + a worker.
"""

import os
from pathlib import Path

import dj_database_url
from kombu import Queue
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

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
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "enterprises",
    "tasks",
    "scoring",
    "notices",
    "dashboards",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "chanjgai_portal.middleware.DomainErrorMiddleware",
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
                "notices.context_processors.unread_notifications",
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
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
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
EVIDENCE_MAX_FILE_SIZE = int(os.environ.get("EVIDENCE_MAX_FILE_SIZE", 20 * 1024 * 1024))
EVIDENCE_MAX_FILES = int(os.environ.get("EVIDENCE_MAX_FILES", 10))

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if env_bool("BEHIND_TLS_PROXY", False):
    # Set only when a reverse proxy terminates TLS and sets this header itself.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- REST API (api/) -----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # drf-spectacular's AutoSchema plus the error responses every operation can give.
    "DEFAULT_SCHEMA_CLASS": "api.schema.PortalAutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"login": os.environ.get("API_LOGIN_THROTTLE", "10/min")},
    # Throttles key on the client address: trust X-Forwarded-For only as far as our own
    # reverse proxy (one hop) sets it, or a client could pick a new address per attempt.
    "NUM_PROXIES": 1 if env_bool("BEHIND_TLS_PROXY", False) else 0,
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
# A recompute is idempotent, so redelivery after a worker crash is safe and wanted.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Enqueueing must never hang a web request when Redis is unreachable.
CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}
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
CELERY_BEAT_SCHEDULE = {
    "sweep-pending-ranking-changes": {
        "task": "scoring.sweep_pending_recomputes",
        "schedule": float(os.environ.get("RANKING_SWEEP_EVERY", "10")),
    },
    "send-deadline-reminders": {
        "task": "notices.send_deadline_reminders",
        "schedule": float(os.environ.get("DEADLINE_REMINDERS_EVERY", "3600")),
    },
}

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
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "noreply@localhost")
EMAIL_SUBJECT_PREFIX = os.environ.get("EMAIL_SUBJECT_PREFIX", "[产改] ")
# Prefixed to the portal paths in notification emails, e.g. https://chanjgai.example.gov.cn
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "")

# --- Caches -----------------------------------------------------------------------
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- django-import-export ---------------------------------------------------------
IMPORT_EXPORT_USE_TRANSACTIONS = True
# The resources escape = + - @ themselves (enterprises/resources.py): the built-in
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
