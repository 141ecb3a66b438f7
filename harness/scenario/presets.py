"""Platform presets for ``[target.serverless] preset``: each platform's documented defaults.

A preset is a table of ``[target.serverless]`` keys, parsed by the same field parsers as
the scenario's own keys; keys written in the scenario win over the preset's. The source
and the date of every number are in docs/presets.md (keep the two in step).
"""

from __future__ import annotations

from collections.abc import Mapping

PRESETS: dict[str, Mapping[str, object]] = {
    # one request per execution environment; 1,000 concurrent executions per account and
    # region; 1,000 new environments per 10 s per function; default timeout 3 s; frozen
    # between invocations; idle lifetime undocumented (see docs/presets.md)
    "aws-lambda": {
        "instance_concurrency": 1, "max_instances": 1000, "scale_rate": 100.0,
        "idle_timeout": "600s", "max_duration": "3s", "freeze": True, "reap": "kill",
        "websockets": False,  # a function is invoked per request, never upgraded
        "adapter": "web-adapter",  # AWS's own adapter for web apps: the invocation ends with
    },                             # the response (Mangum users set adapter = "mangum")
    # Fluid compute: many requests per instance (number not documented), up to 30,000
    # concurrency (Hobby, Pro), default maximum duration 300 s; suspended between requests
    "vercel-fluid": {
        "instance_concurrency": 30, "max_instances": 30000, "scale_rate": 100.0,
        "idle_timeout": "300s", "max_duration": "300s", "freeze": True, "reap": "kill",
        "websockets": True,  # public beta, a connection lives as long as its function may
        "adapter": "mangum",  # the Python runtime ends the invocation when the ASGI call has
    },                        # returned (vc_init.py's ASGIMiddleware)
    # 80 concurrent requests per instance (console default), 100 max instances (default
    # for new services), request timeout 300 s, CPU throttled outside requests
    # (request-based billing), idle instances kept up to 15 minutes
    "cloud-run": {
        "instance_concurrency": 80, "max_instances": 100, "scale_rate": 100.0,
        "idle_timeout": "900s", "max_duration": "300s", "freeze": True, "reap": "kill",
        "websockets": True,  # a WebSocket is a request: cut at the request timeout
        "adapter": "web-adapter",  # a container's own HTTP server: CPU throttled once it
    },                             # has answered
    # container-concurrency-target-default 100, max-scale 0 (unbounded: the emulator's
    # 1,000), revision-timeout-seconds 300, stable-window 60 s (+ scale-to-zero grace
    # period 30 s), pods keep running between requests (no freeze)
    "knative": {
        "instance_concurrency": 100, "max_instances": 1000, "scale_rate": 100.0,
        "idle_timeout": "90s", "max_duration": "300s", "freeze": False, "reap": "kill",
        "websockets": True,
        "adapter": "web-adapter",  # a container's own HTTP server (never frozen here)
    },
}
"""Preset name -> ``[target.serverless]`` keys and values."""
