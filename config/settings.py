"""One settings module, driven by environment variables.

Defaults give the embedded setup of `make run`: SQLite, locmem cache, Celery tasks run eagerly.
`DATABASE_URL=postgres://...` and `CELERY_BROKER_URL=redis://...` switch to the production parts.
"""

import json
import os
import urllib.request
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Public (it is in the repository): for `make run` and the tests only. Production (DJANGO_HTTPS=1
# without DJANGO_DEBUG) refuses it below, and `check --deploy` fails on it (catalogue/security.py).
DEVELOPMENT_SECRET_KEY = "insecure-development-key-change-me-" + "x" * 24
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",  # sign-in lockout (AXES_* below)
    "csp",  # Content-Security-Policy header (CONTENT_SECURITY_POLICY below)
    "techniques",
    "catalogue",
    "logbook",
    "shipping",
    "doi",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "catalogue.security.PrivateCacheMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "catalogue.middleware.DatabaseUnavailableMiddleware",  # 503 + Retry-After, not 500
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: turns a lockout into its page
]

ROOT_URLCONF = "config.urls"

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
                "catalogue.people.identity.sign_in_context",
            ],
        },
    },
    {
        # The portal's pages where rendering costs (catalogue/portal/jinja.py): the investigation page's content,
        # the dataset table, pagination and the logbook's timelines; Django's pages include them through tags.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "catalogue.portal.jinja.environment"},
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # The portal's and the API's queries are short and many run at once: parallel workers cost more
    # to start than they save (a search page's query: 22 ms with two workers, 2.4 ms without).
    parallel_workers = env.int("DATABASE_PARALLEL_WORKERS", default=0)
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c max_parallel_workers_per_gather={parallel_workers}"
    # QuerySet.iterator() (a form's choices, among others) fetches in one round trip rather than
    # DECLARE, FETCH and CLOSE; it also keeps the application usable behind a transaction pooler.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The sign-in lockout first (django-axes, see "Security" below); with OIDC on, its backend too.
AUTHENTICATION_BACKENDS = ["catalogue.security.SignInLockoutBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
# Front-end packages come from the npm registry (package.json) and are served from here.
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", NODE_MODULES / "bootstrap" / "dist"),
    ("vendor/bootstrap-icons", NODE_MODULES / "bootstrap-icons" / "font"),
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/chart.js", NODE_MODULES / "chart.js" / "dist"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str("STATICFILES_STORAGE", default="django.contrib.staticfiles.storage.StaticFilesStorage")
    },
}

# --- Facility -------------------------------------------------------------------------------
FACILITY_NAME = env.str("FACILITY_NAME", default="European Synchrotron Radiation Facility")
# The portal's address, in what commands print (load_demo); by default where `make run` serves (PORT).
PORTAL_URL = env.str("PORTAL_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}").rstrip("/")
# Data of an investigation becomes public this many years after its end date.
EMBARGO_YEARS = env.int("EMBARGO_YEARS", default=3)
# Every investigation's data folder (and so every dataset location) lies inside one of these.
DATA_ROOTS = [Path(p) for p in env.list("DATA_ROOTS", default=[str(BASE_DIR / "var" / "data")])]
# Each investigation's data folder, inside each data root, unless staff or the user-office sync set
# its own (Investigation.data_folder). Fields: root, proposal and instrument (lower case, letters
# and digits only: mx1111, id30a1), proposal_name and instrument_name (as written), visit_id, and
# start and end (dates in TIME_ZONE, with a format: {start:%Y%m%d}). A dataset's location must lie
# inside its investigation's folder.
DATA_FOLDER_PATTERN = env.str("DATA_FOLDER_PATTERN", default="{root}/visitor/{proposal}/{instrument}/{start:%Y%m%d}")
# Shipping: the Django groups of the stores staff (receive and return parcels) and of safety
# (approve them, with the local contacts).
SHIPPING_STORES_GROUP = env.str("SHIPPING_STORES_GROUP", default="stores")
SHIPPING_SAFETY_GROUP = env.str("SHIPPING_SAFETY_GROUP", default="safety")
# Where parcels go, printed on their labels: the stores' address, one line per item.
SHIPPING_STORES_ADDRESS = env.list(
    "SHIPPING_STORES_ADDRESS",
    default=["Stores", FACILITY_NAME, "71 avenue des Martyrs", "38000 Grenoble", "FRANCE"],
)
INGESTION_VALIDATION = env.str("INGESTION_VALIDATION", default="strict")  # facility default: strict | lenient
# A file list of up to this many entries is registered with its dataset, in the same transaction
# (the answer says complete); longer lists and scans of the location go to the worker.
INGESTION_INLINE_FILES = env.int("INGESTION_INLINE_FILES", default=1000)

# --- Storage: the archive ("tape"), restore and downloads (README, "Storage") -----------------
# The archive behind main storage: "filesystem" (a folder standing for tape, with a delay per restore
# like a tape mount; the demo's and the tests') or "command" (the facility's HSM driven by commands).
STORAGE_BACKEND = env.str("STORAGE_BACKEND", default="filesystem")
STORAGE_ARCHIVE_ROOT = Path(env.str("STORAGE_ARCHIVE_ROOT", default=str(BASE_DIR / "var" / "archive")))
STORAGE_RESTORE_DELAY = env.float("STORAGE_RESTORE_DELAY", default=0.0)
# The command backend's templates, one argument per list item (never a shell): {location}, {archive}
# (the dataset's place in the archive), {dataset} (its id) and {path} (a file's) are filled in.
# Archive and restore must exit 0 once done; status exits 0 when the archive holds the dataset.
STORAGE_ARCHIVE_COMMAND = env.list("STORAGE_ARCHIVE_COMMAND", default=[])
STORAGE_RESTORE_COMMAND = env.list("STORAGE_RESTORE_COMMAND", default=[])
STORAGE_STATUS_COMMAND = env.list("STORAGE_STATUS_COMMAND", default=[])
STORAGE_COMMAND_TIMEOUT = env.int("STORAGE_COMMAND_TIMEOUT", default=6 * 3600)
# Complete datasets older than this many days (by their end, else start date) are archived by the
# beat task; 0: never automatically (staff still can).
STORAGE_ARCHIVE_AFTER_DAYS = env.int("STORAGE_ARCHIVE_AFTER_DAYS", default=0)
STORAGE_ARCHIVE_BATCH = env.int("STORAGE_ARCHIVE_BATCH", default=500)
# Restored data stays on disk this long, then is released back to ARCHIVED.
STORAGE_ONLINE_DAYS = env.int("STORAGE_ONLINE_DAYS", default=14)
# The Celery queue of restores: its own worker with as many processes as tape drives
# (`celery -A config worker -Q restore -c 2`). Restore tasks are retried this many times.
STORAGE_RESTORE_QUEUE = env.str("STORAGE_RESTORE_QUEUE", default="restore")
STORAGE_RESTORE_RETRIES = env.int("STORAGE_RESTORE_RETRIES", default=5)
# Open restores whose task was sent this long ago without an end are sent again (beat task).
STORAGE_RESTORE_GRACE_SECONDS = env.int("STORAGE_RESTORE_GRACE_SECONDS", default=3600)
# Above this many bytes a download's page points to the facility's bulk tool (HTTP still works).
DOWNLOAD_BULK_THRESHOLD = env.int("DOWNLOAD_BULK_THRESHOLD", default=50 * 2**30)
DOWNLOAD_BULK_TEXT = env.str(
    "DOWNLOAD_BULK_TEXT",
    default="For data of this size, transfer it with Globus from the facility's endpoint, where the "
    "folder is the dataset's location shown above.",
)
# "" (Django streams the bytes), or a django-sendfile2 backend for the web server to send them:
# "django_sendfile.backends.nginx" (X-Accel-Redirect) or "django_sendfile.backends.xsendfile" (Apache).
DOWNLOAD_SENDFILE = env.str("DOWNLOAD_SENDFILE", default="")
# django-sendfile2: the web server maps SENDFILE_URL (an internal location) onto SENDFILE_ROOT, the
# folder holding every data root (nginx: `location /protected-data/ { internal; alias <root>/; }`).
SENDFILE_BACKEND = DOWNLOAD_SENDFILE or None
SENDFILE_ROOT = env.str("DOWNLOAD_SENDFILE_ROOT", default=os.path.commonpath([str(root) for root in DATA_ROOTS]))
SENDFILE_URL = env.str("DOWNLOAD_SENDFILE_URL", default="/protected-data")

# --- Celery ---------------------------------------------------------------------------------
# With no broker configured, tasks run in the calling process (the embedded default);
# The in-memory transport is never used then; it only keeps kombu from warning about a missing host.
CELERY_TASK_ALWAYS_EAGER = not env.str("CELERY_BROKER_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="memory://localhost/")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Threads, one per CPU by default: the tasks mostly wait on PostgreSQL and the disk, so two of them
# overlap on one process, without prefork's copy of every message to a child process
# (docs/benchmarks.md). `celery -A config worker` takes both; -P and -c still override them.
CELERY_WORKER_POOL = env.str("CELERY_WORKER_POOL", default="threads")
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=None)
# Celery closes a worker's database connections around every task unless told to reuse them, and a
# new PostgreSQL connection costs more than registering 100 files. Reused for up to this many
# tasks; config/celery.py still closes one that is broken or older than CONN_MAX_AGE, as Django
# does around a web request.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Nothing lost when a worker, Redis or PostgreSQL fails (README, "Reliability"). The registration task
# is acknowledged once done (acks_late, catalogue/tasks.py); with Redis, a message held by a worker that
# died is delivered again after the visibility timeout: longer than the longest registration and than
# the task's longest retry delay (300 s), or Redis would deliver it twice meanwhile.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=1800),
    # A broker that does not answer fails the request's send in seconds, not minutes (the dataset is
    # stored all the same, its registration pending).
    "socket_connect_timeout": 3,
    "socket_timeout": 10,
}
# Registrations still pending this long after their task was sent are sent again, by the beat task
# every REGISTRATION_RECONCILE_SECONDS and by `manage.py reconcile_datasets`.
REGISTRATION_GRACE_SECONDS = env.int("REGISTRATION_GRACE_SECONDS", default=600)
REGISTRATION_RECONCILE_SECONDS = env.int("REGISTRATION_RECONCILE_SECONDS", default=300)
# Periodic tasks, run by `celery -A config beat`.
CELERY_BEAT_SCHEDULE = {
    "sync-user-office": {
        "task": "catalogue.tasks.sync_user_office",
        "schedule": env.int("USER_OFFICE_SYNC_MINUTES", default=60) * 60.0,
    },
    "send-release-notices": {"task": "catalogue.tasks.send_release_notices", "schedule": 24 * 3600.0},
    "reconcile-registrations": {
        "task": "catalogue.tasks.reconcile_registrations",
        "schedule": float(REGISTRATION_RECONCILE_SECONDS),
    },
    "archive-due-datasets": {"task": "catalogue.tasks.archive_due_datasets", "schedule": 24 * 3600.0},
    "release-restored-datasets": {"task": "catalogue.tasks.release_restored_datasets", "schedule": 3600.0},
    "reconcile-restores": {"task": "catalogue.tasks.reconcile_restores", "schedule": 600.0},
    "publish-released-sessions": {"task": "doi.tasks.publish_released_sessions", "schedule": 3600.0},
    "reconcile-publications": {"task": "doi.tasks.reconcile_publications", "schedule": 600.0},
}
# Restores have their own queue (and worker): tape drives are few, and a restore takes hours.
CELERY_TASK_ROUTES = {"catalogue.tasks.restore_dataset": {"queue": STORAGE_RESTORE_QUEUE}}
# The user office's export (JSON or CSV, see docs/user-office-export.json); empty: no periodic sync.
USER_OFFICE_EXPORT = env.str("USER_OFFICE_EXPORT", default="")

# --- Publication (doi/) ----------------------------------------------------------------------
# DataCite's REST API (https://api.test.datacite.org for tests); minting is on only when the URL,
# the prefix, the user and the password are all set. Unset, DOIs are local (under DOI_LOCAL_PREFIX,
# DataCite's documented test prefix) and publications become findable on the portal only.
DATACITE_URL = env.str("DATACITE_URL", default="")
DATACITE_PREFIX = env.str("DATACITE_PREFIX", default="")
DATACITE_USER = env.str("DATACITE_USER", default="")
DATACITE_PASSWORD = env.str("DATACITE_PASSWORD", default="")
DATACITE_TIMEOUT = env.float("DATACITE_TIMEOUT", default=20.0)
DOI_LOCAL_PREFIX = env.str("DOI_LOCAL_PREFIX", default="10.5072")
DOI_LICENCE = env.str("DOI_LICENCE", default="CC-BY-4.0")  # SPDX identifier
DOI_REVIEW = env.bool("DOI_REVIEW", default=False)  # staff review a selection DOI before it is published
DOI_PUBLISHER = env.str("DOI_PUBLISHER", default="")  # empty: FACILITY_NAME
# Publications still waiting for DataCite this long after their task was sent are sent again (beat).
DOI_RECONCILE_SECONDS = env.int("DOI_RECONCILE_SECONDS", default=3 * 3600)

# --- API ------------------------------------------------------------------------------------
# The dataset and file lists count their results up to this number and say when there are more
# (catalogue/pagination.py).
COUNT_CAP = env.int("COUNT_CAP", default=1_000)
# The ingestion route's body limit (POST /api/v1/datasets/): a list of 200,000 files is ~25 MB. Other
# routes keep Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB). Over the limit: a JSON 413.
INGESTION_MAX_BODY_MB = env.int("INGESTION_MAX_BODY_MB", default=64)
# The batch route's (POST /api/v1/datasets/batch/, up to 500 datasets): 500 datasets of 60 parameters
# and 100 files are ~3 MB; of 1,000 files each (INGESTION_INLINE_FILES), ~23 MB.
INGESTION_BATCH_MAX_BODY_MB = env.int("INGESTION_BATCH_MAX_BODY_MB", default=64)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "catalogue.api.authentication.InstrumentKeyAuthentication",
        "catalogue.people.identity.BearerTokenAuthentication",  # does nothing while OIDC is off
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_FILTER_BACKENDS": ["catalogue.api.filtering.FilterBackend"],
    "DEFAULT_PARSER_CLASSES": [
        "catalogue.api.parsers.JSONParser",  # with the per-route body limit
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "catalogue.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Research data catalogue API",
    "DESCRIPTION": "Ingestion and read API of the facility's data catalogue.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",  # drf-spectacular's default
        "catalogue.api.schema.add_error_responses",  # 400, 401, 403, 404, 413, 415, 429, 503
    ],
}

# --- Sign-in with OpenID Connect (mozilla-django-oidc; catalogue/people/identity.py) ---------------
# Off while OIDC_RP_CLIENT_ID is unset: local accounts only. When on, local accounts still sign in
# (service accounts, development). The provider's endpoints come from its discovery document,
# read once at start (OIDC_OP_ISSUER), or one by one (OIDC_OP_*_ENDPOINT, which win).
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="single sign-on")
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="groups")
OIDC_ADMIN_GROUPS = env.list("OIDC_ADMIN_GROUPS", default=[])
OIDC_STAFF_GROUPS = env.list("OIDC_STAFF_GROUPS", default=[])
OIDC_SCIENTIST_GROUP_PREFIX = env.str("OIDC_SCIENTIST_GROUP_PREFIX", default="instrument-scientist:")
# /oidc/ is always routed; its sign-in view answers 404 while OIDC is off.
OIDC_AUTHENTICATE_CLASS = "catalogue.people.identity.ProviderSignInView"
OIDC_OP_LOGOUT_URL_METHOD = "catalogue.people.identity.provider_logout_url"


def _discover(issuer: str) -> dict:
    if not issuer:
        return {}
    with urllib.request.urlopen(f"{issuer.rstrip('/')}/.well-known/openid-configuration", timeout=10) as response:
        return json.load(response)


if OIDC_RP_CLIENT_ID:
    _provider = _discover(env.str("OIDC_OP_ISSUER", default=""))
    AUTHENTICATION_BACKENDS = [
        "catalogue.security.SignInLockoutBackend",  # first: a locked-out client reaches no other backend
        "catalogue.people.identity.ProviderBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET")
    OIDC_OP_AUTHORIZATION_ENDPOINT = env.str(
        "OIDC_OP_AUTHORIZATION_ENDPOINT", default=_provider.get("authorization_endpoint", env.NOTSET)
    )
    OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default=_provider.get("token_endpoint", env.NOTSET))
    OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default=_provider.get("userinfo_endpoint", env.NOTSET))
    OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default=_provider.get("jwks_uri", env.NOTSET))
    OIDC_OP_LOGOUT_ENDPOINT = env.str("OIDC_OP_LOGOUT_ENDPOINT", default=_provider.get("end_session_endpoint", ""))
    OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")
    OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid email profile")
    OIDC_USE_PKCE = True
    OIDC_STORE_ID_TOKEN = True  # for the id_token_hint of the provider's sign-out
    OIDC_TIMEOUT = 10  # seconds, for each call to the provider

# --- Security (production) ------------------------------------------------------------------
# Behind TLS (set DJANGO_HTTPS=1): secure cookies, HSTS, redirect to https.
if env.bool("DJANGO_HTTPS", default=False):
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    if not DEBUG and SECRET_KEY == DEVELOPMENT_SECRET_KEY:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is not set: production cannot run with the development key.")
# SecurityMiddleware's defaults also send X-Content-Type-Options: nosniff, Referrer-Policy: same-origin
# and Cross-Origin-Opener-Policy: same-origin; XFrameOptionsMiddleware, X-Frame-Options: DENY.

# Content-Security-Policy (django-csp): scripts, styles and fonts from the portal only, no inline
# script or style (static/js/portal.js; htmx's eval is off, templates/base.html). The API docs
# page relaxes it (catalogue/api/urls.py). No form-action: signing out redirects to the provider.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # Bootstrap's icons in its CSS are data: URIs
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
    }
}

# The client's address, for the lockouts: REMOTE_ADDR, or behind this many trusted proxies the one
# they add to X-Forwarded-For (catalogue.security.client_ip). 0: no proxy, or one that does not say.
DJANGO_PROXY_COUNT = env.int("DJANGO_PROXY_COUNT", default=0)

# Sign-in lockout (django-axes, database handler): after SIGN_IN_FAILURE_LIMIT wrong passwords for a
# username from one address, the portal's and the admin's sign-in answer 429 (even to the right
# password) for SIGN_IN_LOCKOUT_MINUTES. Failures are listed, and can be deleted, in the admin
# ("Access attempts"), or cleared with `manage.py axes_reset`.
AXES_FAILURE_LIMIT = env.int("SIGN_IN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("SIGN_IN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the lockout ends when announced
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_CLIENT_IP_CALLABLE = "catalogue.security.client_ip"
AXES_DISABLE_ACCESS_LOG = True  # keep failures only, not a row per successful sign-in

# Failed `Authorization: Api-Key` attempts: after API_KEY_FAILURE_LIMIT from one address within
# API_KEY_LOCKOUT_SECONDS, that address gets 429 with Retry-After for API_KEY_LOCKOUT_SECONDS, whatever
# key it sends. Counted in the cache: set CACHE_URL to Redis in production so that all processes share it.
API_KEY_FAILURE_LIMIT = env.int("API_KEY_FAILURE_LIMIT", default=10)
API_KEY_LOCKOUT_SECONDS = env.int("API_KEY_LOCKOUT_SECONDS", default=300)

# The electronic logbook (logbook/): attachments are stored under LOGBOOK_ATTACHMENT_ROOT with generated
# names, each at most LOGBOOK_MAX_ATTACHMENT_MB. An experiment's logbook stays private to its participants
# and its instrument's staff after the data's release unless LOGBOOK_PUBLIC_AFTER_RELEASE (ESRF's choice).
LOGBOOK_ATTACHMENT_ROOT = Path(env.str("LOGBOOK_ATTACHMENT_ROOT", default=str(BASE_DIR / "var" / "logbook")))
LOGBOOK_MAX_ATTACHMENT_MB = env.int("LOGBOOK_MAX_ATTACHMENT_MB", default=10)
LOGBOOK_PUBLIC_AFTER_RELEASE = env.bool("LOGBOOK_PUBLIC_AFTER_RELEASE", default=False)
# The batch of events (POST /api/v1/logbook/events/batch/): at most this many events a request, and a
# body of at most LOGBOOK_BATCH_MAX_BODY_MB (500 events of 2 kB are 1 MB; the single POST keeps Django's limit).
LOGBOOK_BATCH_MAX_EVENTS = env.int("LOGBOOK_BATCH_MAX_EVENTS", default=500)
LOGBOOK_BATCH_MAX_BODY_MB = env.int("LOGBOOK_BATCH_MAX_BODY_MB", default=32)

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))  # the file backend's folder
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="data-portal@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}
