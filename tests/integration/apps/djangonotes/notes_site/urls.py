"""Two views on raw SQL: count the notes, add one."""

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path


def count(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM notes")
        (n,) = cur.fetchone()
    return JsonResponse({"notes": n})


def add(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cur:
        cur.execute("INSERT INTO notes (body) VALUES (%s)", ["hello"])
    return JsonResponse({"ok": True}, status=201)


urlpatterns = [path("notes", count), path("notes/add", add)]
