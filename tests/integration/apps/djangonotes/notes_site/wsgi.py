"""The WSGI entry as ``django-admin startproject`` writes it."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notes_site.settings")
application = get_wsgi_application()
