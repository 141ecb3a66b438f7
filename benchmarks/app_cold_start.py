"""Cold start of a user's app on the emulator: fork from a template that preloaded its
libraries vs exec of a fresh interpreter. Each request goes to a new instance (idle_timeout 0,
reap kill); printed per mode: the platform's cold-start duration (fork/exec + import + lifespan
startup) and the first response's latency seen by the client. Prints JSON.

    .venv/bin/python benchmarks/app_cold_start.py [--n 20]        # the stdlib test app
    .venv/bin/python benchmarks/app_cold_start.py --n 10 --app shop.main:app \
        --root examples/fastapi-shop --python examples/fastapi-shop/.venv/bin/python \
        --preload fastapi,pydantic,sqlalchemy.ext.asyncio,asyncpg --path /products \
        --schema examples/fastapi-shop/schema.sql --dsn-env DATABASE_URL
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import psycopg
from platform_common import REPO, cluster, gateway, get, stats, summary


def measure(knobs: dict[str, Any], mode: str, path: str, n: int) -> dict[str, object]:
    preload = knobs["app_preload"] if mode == "fork" else ()
    with gateway("", **{**knobs, "app_preload": preload}, cold_start=mode, idle_timeout_s=0.0,
                 reap="kill") as (host, port):
        latencies = []
        for _ in range(n):
            status, body, ms = asyncio.run(get(host, port, path))
            assert status < 300, (status, body[:300])
            latencies.append(ms)
            deadline = time.monotonic() + 30
            while stats(host, port)["instances"] and time.monotonic() < deadline:
                time.sleep(0.02)  # reaped: the next request is a cold start
        doc = stats(host, port)
    return {
        "platform_cold_start_ms": summary([e["duration_ms"] for e in doc["cold_start_events"]]),
        "first_response_ms": summary(latencies),
        "cold_starts": doc["cold_starts"],
        "init_failures": doc["init_failures"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--kind", default="asgi", choices=("asgi", "wsgi"))
    parser.add_argument("--app", default="stdlib_asgi:app")
    parser.add_argument("--root", default=str(REPO / "tests" / "fixtures" / "apps"))
    parser.add_argument("--python", default="", help="the app's interpreter")
    parser.add_argument("--preload", default="json,email.message",
                        help="modules the template imports (fork mode)")
    parser.add_argument("--path", default="/hello")
    parser.add_argument("--schema", default="", help="SQL for a PostgreSQL started here")
    parser.add_argument("--dsn-env", default="", help="variable set to that database's DSN")
    args = parser.parse_args()
    knobs: dict[str, Any] = {
        "app_kind": args.kind, "app_entry": args.app, "app_root": str(Path(args.root).resolve()),
        "app_python": str(Path(args.python).absolute()) if args.python else "",
        "app_preload": tuple(m for m in args.preload.split(",") if m),
    }
    out: dict[str, object] = {"app": args.app, "path": args.path}
    if not args.dsn_env:
        for mode in ("fork", "exec"):
            out[mode] = measure(knobs, mode, args.path, args.n)
    else:
        with cluster(100) as pg:
            if args.schema:
                with psycopg.connect(pg.app_dsn, autocommit=True) as conn:
                    conn.execute(Path(args.schema).read_text())
            knobs["app_env"] = {args.dsn_env: pg.app_dsn}
            for mode in ("fork", "exec"):
                out[mode] = measure(knobs, mode, args.path, args.n)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
