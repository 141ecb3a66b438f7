"""The Locust boundary: load plans, the locustfile, the request log and the runner.

Only ``harness.load.locustfile`` imports locust, and only inside the Locust subprocess
(importing locust monkey-patches the process with gevent). This package re-exports
nothing, so that the locustfile's imports stay light (no pandas in Locust): import
``harness.load.runner`` for ``run_locust`` and ``read_request_logs``.
"""
