"""Settings from the environment: DATABASE_URL as pgstampede sets it (dsn_env)."""

import os
from urllib.parse import urlparse

_db = urlparse(os.environ["DATABASE_URL"])
SECRET_KEY = "test-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "notes_site.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
USE_TZ = True
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _db.path.lstrip("/"),
        "USER": _db.username or "",
        "PASSWORD": _db.password or "",
        "HOST": _db.hostname,
        "PORT": _db.port,
        "CONN_MAX_AGE": None,  # a connection per thread, kept for the process's life
    }
}
