"""The vocabulary of the ``realtime`` frame: what each ``/events`` subscriber saw.

Written by the load (``harness.load.realtime_log``, inside Locust: no pandas here), read by
the analysis (``harness.analysis.realtime``). Rows (columns :data:`REALTIME_COLUMNS`)::

    kind     t                              other columns
    start    the ready event's arrival      after_id: every message with a larger id is due
    message  its arrival                    message_id, delay_ms = arrival - published_at
    end      the end of the subscription    reason: done (the subscriber's window ended; t is
                                            that moment), cut (the stream closed: the platform's
                                            max_duration, or the server went), end (the hub
                                            lost its LISTEN connection), error (the stream
                                            broke), refused (the subscribe request failed, or
                                            its stream closed before ``ready``), stopped
                                            (the load ended while it was subscribed; messages
                                            published in its last ``STOP_GRACE_S`` are not
                                            due: they may have been in flight)

``subscriber`` names one subscribing task (a user's ``subscribe_duration`` window, across its
reconnects), ``subscription`` counts its streams from 1.
"""

from __future__ import annotations

REALTIME_COLUMNS: tuple[str, ...] = ("t", "subscriber", "subscription", "kind", "message_id",
                                     "after_id", "delay_ms", "reason")
START, MESSAGE, END = "start", "message", "end"
DONE, CUT, SERVER_END, ERROR, REFUSED, STOPPED = ("done", "cut", "end", "error", "refused",
                                                  "stopped")
STOP_GRACE_S = 1.0
DISCONNECTS = (CUT, SERVER_END, ERROR)  # a stream that was subscribed and ended early
