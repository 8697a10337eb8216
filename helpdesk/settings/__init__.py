"""Settings for helpdesk, all read from the environment, and nothing else.

DATABASE_URL, REDIS_URL, LLM_BASE_URL and SECRET_KEY have no default: production sets them
(docker-compose.yml); the development tooling (`manage.py`, `make run`, `make test`) starts
the embedded services before Django loads and sets them, so a plain checkout runs offline
on a CPU. The settings of answers (LLM, embeddings, retrieval, chat) are in answers.py, the
desk's brand (product and assistant names, greeting) in brand.py.
"""

import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from helpdesk.environment import (
    envbool,
    envfloat,
    envint,
    envlist,
    envrate,
    envrequired,
    var_dir,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = envrequired("SECRET_KEY")
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
# The product, assistant and desk names, the greeting and the prompt's intro (SITE_NAME too).
from helpdesk.settings.brand import *  # noqa: E402, F403

# The embeddable widget: its session tokens and signed identities.
from helpdesk.settings.widget import *  # noqa: E402, F403

INSTALLED_APPS = [
    "daphne",
    # Django's admin, on helpdesk.admin_site.HelpdeskAdminSite (a second factor, staff sessions).
    "helpdesk.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    # Only for its system checks (a cache that cannot count atomically is an error).
    "django_ratelimit",
    # Admin logins: throttled (axes) and with an optional TOTP second factor (django-otp).
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "helpdesk",
    "chat",
    "knowledge",
    "tickets",
    "insights",
    "privacy",
    "widget",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outermost but one, so error pages (429, the degraded 503) carry the policy too.
    "core.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The customer's pages in the browser's language (Accept-Language, one of LANGUAGES);
    # after the session, before CommonMiddleware, as Django documents. The admin stays English.
    "core.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): did this session pass the user's TOTP device?
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns django-ratelimit's Ratelimited (a PermissionDenied) into RATELIMIT_VIEW's 429.
    "django_ratelimit.middleware.RatelimitMiddleware",
    # Last, as axes documents: turns a locked-out login into its 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
ASGI_APPLICATION = "helpdesk.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                # LANGUAGE_CODE, for <html lang>.
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # The desk's name and greeting, from settings (helpdesk/settings/brand.py).
                "helpdesk.context_processors.brand",
            ],
        },
    },
]

# --- External services: production's, or the embedded ones the dev tooling started ----------
DATABASE_URL = envrequired("DATABASE_URL")
REDIS_URL = envrequired("REDIS_URL")
# Several URLs, comma-separated, are tried in order (chat/llm.py: stream_chat fails over).
LLM_BASE_URL = envrequired("LLM_BASE_URL")
for _url in LLM_BASE_URL.split(","):
    if _url.strip() and not re.match(r"https?://[^/\s]+", _url.strip()):
        raise ImproperlyConfigured(f"LLM_BASE_URL holds {_url.strip()!r}, not an http(s) URL")

DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
# HNSW search is approximate: pgvector's default candidate list (40) can miss a true
# nearest chunk; 200 keeps recall@10 near 0.95 at 100k chunks for about a millisecond
# more (docs/decisions/0010). iterative_scan: HNSW filters (published articles only) after
# the index scan; pgvector 0.8 keeps scanning until enough rows pass instead of returning
# fewer. random_page_cost 1.1, the usual value for SSDs: at Postgres's default (4, for
# spinning disks) the planner prices an ef_search-200 scan of 10k chunks above reading
# the whole table and searches exactly instead, several times slower.
DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
    f"-c hnsw.ef_search={envint('HNSW_EF_SEARCH', 200)} -c hnsw.iterative_scan=relaxed_order"
    f" -c random_page_cost={envfloat('DB_RANDOM_PAGE_COST', 1.1)}"
)
# An unreachable database fails a request in seconds (the degraded page) instead of hanging
# it on the kernel's TCP timeout (minutes). libpq counts anything below 2 as 2.
DB_CONNECT_TIMEOUT = envint("DB_CONNECT_TIMEOUT", 5)
DATABASES["default"]["OPTIONS"]["connect_timeout"] = DB_CONNECT_TIMEOUT
# A pool of connections per process (psycopg_pool, through Django's own "pool" option).
# Without it every question paid for several new Postgres connections (docs/decisions/0007):
# channels' database_sync_to_async closes the connection before and after each call, and
# persistent connections (CONN_MAX_AGE) leak under ASGI, one per request thread. Closing a
# pooled connection hands it back. Each is checked before use, so a restarted Postgres
# costs no failed request; an unreachable one fails in DB_CONNECT_TIMEOUT, not the pool's
# default 30 s. DB_POOL=0 connects afresh each time (for PgBouncer in transaction mode).
# Off in Celery (whatever starts a worker or beat sets DB_POOL=0, and a worker refuses to
# start with it on: helpdesk/celery.py): its Django fixup closes the file descriptors of
# connections at worker_process_init (meant for connections a forked child inherited); a
# pooled one goes back to the pool with its socket closed, and the next task hangs on it. A
# worker opens a connection per task, which costs nothing next to embedding an article.
DB_POOL = envbool("DB_POOL", True)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # with the pool: check before handing out
if DB_POOL:
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": envint("DB_POOL_SIZE", 10),
        "timeout": DB_CONNECT_TIMEOUT,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The same for Redis (sessions, cache, history, the channel layer's connects): an outage
# costs a request this long at most, not redis-py's default of 5 s.
REDIS_TIMEOUT = envfloat("REDIS_TIMEOUT", 2.0)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT},
    }
}
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 14 * 24 * 3600)
# A staff login lasts a working day from the moment it is made, not SESSION_COOKIE_AGE:
# a forgotten admin tab or a stolen cookie is worth far more than a customer's chat.
STAFF_SESSION_SECONDS = envint("STAFF_SESSION_SECONDS", 9 * 3600)

# --- Admin logins (helpdesk/admin_site.py) ------------------------------------------------------
# axes first: it refuses a locked-out login before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# This many wrong passwords for one username from one address lock that pair out for the
# cool-off. The pair, not the address alone: an office behind one NAT address is not locked
# out by one colleague's typos, and not the username alone: an attacker cannot lock a
# staff member out from elsewhere. An attacker spraying one user from many addresses still
# gets only this many guesses per address per cool-off.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = envint("AXES_COOLOFF_MINUTES", 15) / 60  # axes reads a float as hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The address the rate limits count, through the same trusted proxies (TRUSTED_PROXY_COUNT).
AXES_CLIENT_IP_CALLABLE = "core.ratelimits.client_ip"
# A right password wipes the earlier typos, so they do not add up over a working day.
AXES_RESET_ON_SUCCESS = True
# Anyone with a confirmed TOTP device passes it at every admin login. On, a superuser without
# one can use the admin only to enrol one. Off for a local checkout; production turns it on.
ADMIN_REQUIRE_2FA = envbool("ADMIN_REQUIRE_2FA", False)
# The name an authenticator app shows beside the code.
OTP_TOTP_ISSUER = SITE_NAME  # noqa: F405 (brand.py)

# --- Rate limits (core/ratelimits.py) ---------------------------------------------------
# Counted in Redis, so every daphne process shares one count. A cache of its own only to
# give it short timeouts and to let an unreachable Redis come back as "no count" instead
# of an exception (core/cache.py); it is the same Redis as the default cache.
CACHES["ratelimit"] = {
    "BACKEND": "core.cache.RateLimitCache",
    "LOCATION": REDIS_URL,
    "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
}
RATELIMIT_USE_CACHE = "ratelimit"
# Fail open: when Redis is unreachable, questions are answered without counting (and a
# warning is logged) rather than every customer being locked out by a Redis blip. The
# guards that need no Redis still hold: message size, one answer at a time per socket,
# one ticket per conversation. RATELIMIT_FAIL_OPEN=0 refuses everything instead.
RATELIMIT_FAIL_OPEN = envbool("RATELIMIT_FAIL_OPEN", True)
RATELIMIT_VIEW = "helpdesk.views.ratelimited"
RATELIMIT_IP_META_KEY = "core.ratelimits.client_ip"
# Questions per session and per client address (a NAT'd office shares one address).
RATELIMIT_SESSION = envrate("RATELIMIT_SESSION", "10/m")
RATELIMIT_IP = envrate("RATELIMIT_IP", "60/m")
# Escalations per session and per address: each conversation has one ticket anyway, so
# the per-address limit is what stops a script opening sessions to flood the queue.
RATELIMIT_ESCALATE = envrate("RATELIMIT_ESCALATE", "3/h")
RATELIMIT_ESCALATE_IP = envrate("RATELIMIT_ESCALATE_IP", "20/h")
# Page views per address: the support page (each new visitor is a new session) and the KB.
RATELIMIT_PAGES = envrate("RATELIMIT_PAGES", "120/m")
# Reverse proxies in front of daphne that append to X-Forwarded-For. Only that many
# entries from the right are trusted; anything left of them the client can write itself.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 reads with a 5 s socket timeout by default, the same 5 s that
        # channels-redis blocks in BRPOP for: the read would race the reply and kill the socket.
        "CONFIG": {
            "hosts": [
                {
                    "address": REDIS_URL,
                    "socket_timeout": 10,
                    "socket_connect_timeout": REDIS_TIMEOUT,
                    # No CLIENT SETINFO on each new connection: redis-py reads its version
                    # from package metadata for it (ms of CPU), and every socket that
                    # connects during a burst opens one.
                    "driver_info": None,
                    # redis-py 8 caps a pool at 100 connections and raises past it: 200
                    # customers connecting within a second each join a group at once.
                    "max_connections": 1000,
                }
            ]
        },
    }
}

# /healthz gives each dependency check this long (seconds) before reporting it down.
HEALTHZ_TIMEOUT = envfloat("HEALTHZ_TIMEOUT", 2.0)
# Each check's result is reused this long (per process), so a flood of /healthz costs one
# database query, Redis ping, embedding and LLM call per process per window, not one each.
HEALTHZ_CACHE_SECONDS = envfloat("HEALTHZ_CACHE_SECONDS", 5.0)
# Per address: far above any load balancer's or monitor's probing (one a second).
RATELIMIT_HEALTHZ = envrate("RATELIMIT_HEALTHZ", "60/m")

# Production gives the broker a Redis of its own that never evicts (docker-compose.yml);
# unset, it is REDIS_URL's. kombu spells a unix-socket Redis URL differently from redis-py.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL.replace(
    "unix://", "redis+socket://", 1
)

from helpdesk.settings.answers import *  # noqa: E402, F403

# Celery's behaviour, the insights windows, and what beat runs when.
from helpdesk.settings.tasks import *  # noqa: E402, F403

# Prometheus scrapes /metrics; with a token set it must send "Authorization: Bearer <token>".
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# --- Files -------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
# Serve straight from the app folders when collectstatic has not run (make run).
WHITENOISE_USE_FINDERS = True
# collectstatic (the Docker image) writes a gzipped copy of each file beside it, which
# WhiteNoise sends to browsers that accept it: the widget's frame is ~16 KB instead of ~45 KB.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or var_dir() / "media")
MEDIA_URL = "/media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)
# Every upload path has the same limits (knowledge/uploads.py): the single-article form, the
# bulk upload, and each member of a .zip (its uncompressed size, as declared and as read).
# 10 MB a file is a long PDF manual; a help page is ~10-100 KB.
KB_UPLOAD_MAX_BYTES = envint("KB_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
# Files in one upload, counting each .zip's members: a large product's whole help centre.
KB_UPLOAD_MAX_FILES = envint("KB_UPLOAD_MAX_FILES", 500)
# All of one upload's bytes, and what its .zip files unpack to: daphne spools the request and
# the bytes wait in Postgres until a worker reads them. 10 MB is ~500 help pages, and what
# the proxy lets through to /admin/ (deploy/nginx.conf, 11m); raise the two together, or
# the proxy refuses first with a bare 413.
KB_UPLOAD_MAX_TOTAL_BYTES = envint("KB_UPLOAD_MAX_TOTAL_BYTES", 10 * 1024 * 1024)
# pypdf reads a page's text in ~5-50 ms; 300 pages stay well inside the time limit below.
KB_PDF_MAX_PAGES = envint("KB_PDF_MAX_PAGES", 300)
# Reading an uploaded file (extraction and sanitising) runs in a Celery worker under these
# limits (seconds): the soft one marks the file failed, the hard one kills a stuck child.
KB_EXTRACT_SOFT_TIME_LIMIT = envint("KB_EXTRACT_SOFT_TIME_LIMIT", 60)
KB_EXTRACT_TIME_LIMIT = envint("KB_EXTRACT_TIME_LIMIT", 90)
# An article still pending (or an uploaded file unread) this long after its task was queued
# lost that task (a broker blip): the beat task requeues it. Longer than any task's hard
# time limit (embedding: 300 s), so a task still running is not queued twice.
KB_STALE_PENDING_MINUTES = envint("KB_STALE_PENDING_MINUTES", 10)

# Ticket SLA: hours from creation to the due time, by priority.
TICKET_SLA_HOURS = {
    "urgent": envint("SLA_URGENT_HOURS", 4),
    "high": envint("SLA_HIGH_HOURS", 8),
    "normal": envint("SLA_NORMAL_HOURS", 24),
    "low": envint("SLA_LOW_HOURS", 72),
}
# The live queue marks a ticket "due soon" this many hours before its due time.
TICKET_SLA_SOON_HOURS = envint("SLA_SOON_HOURS", 2)
# When people answer the chat (core/hours.py): e.g. "mon-fri 09:00-17:30; sat 10:00-14:00",
# wall-clock times in BUSINESS_TIMEZONE (an IANA name; empty: TIME_ZONE). Empty: always
# open. Read here, parsed on use; `manage.py check` (so the migrate step) rejects a typo.
BUSINESS_HOURS = os.environ.get("BUSINESS_HOURS", "")
BUSINESS_TIMEZONE = os.environ.get("BUSINESS_TIMEZONE", "")
# Agent replies are also emailed to customers who left an address.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
# Seconds before a silent mail server counts as down (Django's default waits forever).
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 10)
# A reply email that fails is retried this many times, waiting about REPLY_EMAIL_RETRY_BACKOFF
# seconds, then twice as long each time (at most 10 minutes), before it is marked failed.
REPLY_EMAIL_MAX_RETRIES = envint("REPLY_EMAIL_MAX_RETRIES", 10)
REPLY_EMAIL_RETRY_BACKOFF = envint("REPLY_EMAIL_RETRY_BACKOFF", 30)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "support@localhost")

LANGUAGE_CODE = "en"
# The page and the widget ship in these (locale/); the assistant answers in any language.
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

SECURE_CONTENT_TYPE_NOSNIFF = True
# django-ratelimit's check only knows the third-party django-redis; Django's own RedisCache
# (ours, through core.cache) increments atomically too.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
X_FRAME_OPTIONS = "DENY"
# Behind TLS in production (docker-compose.yml sets SECURE_COOKIES=1); plain http locally.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES", False)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
# Load balancers probe over plain http inside the network; a redirect would fail them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
# `manage.py check --deploy` wants both with HSTS; docker-compose.yml turns them on.
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# A phone number written without its +country code ("030/1234567") is redacted when it is
# valid in one of these regions (ISO 3166 codes). Each region added catches its national
# formats, at the cost of a few more long numbers taken for phones (chat/redaction.py).
REDACTION_PHONE_REGIONS = [
    region.upper() for region in envlist("REDACTION_PHONE_REGIONS", "US,GB,DE,FR,ES,IT,NL,IN,BR,AU")
]
if bad_regions := [r for r in REDACTION_PHONE_REGIONS if not re.fullmatch(r"[A-Z]{2}", r)]:
    raise ImproperlyConfigured(f"REDACTION_PHONE_REGIONS must be 2-letter codes, not {bad_regions}")

# Everything logged is redacted (emails, phones, cards, IBANs...; chat/redaction.py) as
# it is written: logs outlive conversations and reach more people than the ticket does.
# "django" and "django.server" are named so Django's own default handlers are dropped and
# their records reach this console too; the Celery worker and beat log through here as well
# (helpdesk/celery.py).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "class": "chat.redaction.RedactingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"level": "INFO", "propagate": True},
        "django.server": {"level": "INFO", "propagate": True},
        # One INFO line per LLM request is noise; openai 3.x logs through httpx2.
        **{name: {"level": "WARNING"} for name in ("httpx", "httpcore", "httpx2")},
    },
}
