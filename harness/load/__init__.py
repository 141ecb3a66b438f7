"""The Locust boundary: load plans, the locustfile, the request log, the runner, and the
distributed load (the coordinator on the master, ``pgstampede worker`` on load machines).

Only the modules that run inside the Locust subprocess import locust or gevent
(``locustfile``, ``locust_plugin``, ``locust_workers``, ``subscriber``): importing locust
monkey-patches the process with gevent. This package re-exports nothing, so that the
locustfile's imports stay light (no pandas in Locust): import ``harness.load.runner`` for
``run_locust`` and ``read_request_logs``.
"""
