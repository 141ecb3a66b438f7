"""Which of the variables an app reads are its database settings, and what pgstampede
should set them to: whole URLs go to ``dsn_env``; parts (host, port, user...) get a template
of ``[app] env``; a switch that says "behind PgBouncer" is set on the PgBouncer variant."""

from __future__ import annotations

from collections.abc import Iterable

from harness.scaffold.findings import DsnPlan, EnvRead

DB_WORDS = {"DATABASE", "DB", "POSTGRES", "POSTGRESQL", "PG", "PSQL", "SQLALCHEMY", "SQL",
            "PGBOUNCER"}
URL_WORDS = {"URL", "URI", "DSN"}
LIBPQ = {"PGHOST": "{host}", "PGPORT": "{port}", "PGUSER": "{user}",
         "PGPASSWORD": "{password}", "PGDATABASE": "{database}"}
PART_WORDS = {"HOST": "{host}", "HOSTNAME": "{host}", "SERVER": "{host}", "PORT": "{port}",
              "USER": "{user}", "USERNAME": "{user}", "PASSWORD": "{password}",
              "PASS": "{password}", "PASSWD": "{password}", "NAME": "{database}",
              "DBNAME": "{database}", "DB": "{database}", "DATABASE": "{database}"}


def words(name: str) -> list[str]:
    return [w for w in name.upper().split("_") if w]


def is_database_setting(name: str) -> bool:
    """DATABASE_URL, POSTGRES_*, PG*, DB_*, *_DSN, SQLALCHEMY_DATABASE_URI..."""
    parts = words(name)
    return bool(set(parts) & DB_WORDS) or name.upper().startswith(("PG", "DB")) \
        or name.upper() == "DSN" or name.upper().endswith("_DSN")


def is_url(name: str) -> bool:
    parts = words(name)
    return bool(parts) and (parts[-1] in URL_WORDS or name.upper().endswith(("URL", "URI",
                                                                              "DSN")))


def part_template(name: str) -> str | None:
    """The template of a connection part (``{host}``...), None when it is not one."""
    upper = name.upper()
    if upper in LIBPQ:
        return LIBPQ[upper]
    parts = words(name)
    if len(parts) < 2 or not set(parts[:-1]) & DB_WORDS:
        return None
    return PART_WORDS.get(parts[-1])


def pgbouncer_value(read: EnvRead) -> str | None:
    """What a switch for PgBouncer's transaction mode should be set to, when the variable
    is one: ``*PGBOUNCER*`` → "1"; ``*STATEMENT_CACHE*`` (asyncpg's cache size) → "0"."""
    upper = read.name.upper()
    if "PGBOUNCER" in upper or "POOLER" in upper:
        return "1"
    if "STATEMENT_CACHE" in upper:
        return "0"
    return None


def classify(reads: Iterable[EnvRead]) -> DsnPlan:
    urls, parts, settings, switches = [], [], [], []
    for read in reads:
        if not is_database_setting(read.name):
            continue
        value = pgbouncer_value(read)
        template = part_template(read.name)
        if value is not None:
            switches.append((read, value))
        elif is_url(read.name):
            urls.append(read)
        elif template is not None:
            parts.append((read, template))
        else:
            settings.append(read)
    return DsnPlan(tuple(urls), tuple(parts), tuple(settings), tuple(switches))
