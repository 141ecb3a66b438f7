"""pgpool-II: pcp_proc_info parsing, the listen backlog, pool counts and pgpool.conf (pure)."""

from __future__ import annotations

from pathlib import Path

from harness.collect.pgpool import PoolSlot, listen_backlog, parse_proc_info, pool_counts
from harness.runtime.pgpool import PgpoolSettings, config_text

PROC_INFO = """\
Database                  : app
Username                  : app
Start time                : 2026-11-29 09:46:03 (4:54 before process restarting)
Client connection count   : 2
Backend connection time   : 2026-11-29 09:46:05
Pool Counter              : 1
Backend PID               : 16354
Connected                 : 1
PID                       : 16314
Backend ID                : 0
Status                    : Execute command

Database                  : app
Username                  : monitor
Backend PID               : 16360
Connected                 : 0
PID                       : 16314
Status                    : Execute command

Database                  :
Username                  :
Backend PID               : 16400
Connected                 : 0
PID                       : 16312
Status                    : Wait for connection

Database                  :
Backend PID               : 0
Connected                 : 0
PID                       : 16313
Status                    : Wait for connection
"""

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid
   0: 0100007F:55EF 00000000:0000 0A 00000000:00000005 00:00000000 00000000   108
   1: 0100007F:55F0 00000000:0000 0A 00000000:00000002 00:00000000 00000000   108
   2: 0100007F:55EF 0100007F:D2A4 01 00000000:00000007 00:00000000 00000000   108
"""


def test_parse_proc_info_reads_every_slot() -> None:
    slots = parse_proc_info(PROC_INFO)
    assert slots == [
        PoolSlot(16314, "Execute command", 16354, True),
        PoolSlot(16314, "Execute command", 16360, False),
        PoolSlot(16312, "Wait for connection", 16400, False),
        PoolSlot(16313, "Wait for connection", 0, False),
    ]


def test_pool_counts_map_children_to_pgbouncer_words() -> None:
    counts = pool_counts(parse_proc_info(PROC_INFO), waiting=4)
    # one child serves a client; its connected slot is active; two cached slots idle
    assert counts == {"cl_active": 1, "cl_waiting": 4, "sv_active": 1, "sv_idle": 2}


def test_listen_backlog_is_rx_queue_of_the_listening_socket_only() -> None:
    assert listen_backlog(TCP, 0x55EF) == 5  # the established row (rx 7) is not the queue
    assert listen_backlog(TCP, 0x55F0) == 2
    assert listen_backlog(TCP, 1234) == 0


def test_config_sets_the_scenario_knobs_and_one_raw_backend() -> None:
    text = config_text(PgpoolSettings(num_init_children=3, max_pool=2, child_life_time_s=60,
                                      connection_life_time_s=30, client_idle_limit_s=10),
                       port=20001, pcp_port=20002, upstream_port=20003, confdir=Path("/x"))
    lines = set(text.splitlines())
    assert {"num_init_children = 3", "max_pool = 2", "child_life_time = 60",
            "connection_life_time = 30", "client_idle_limit = 10", "port = 20001",
            "backend_port0 = 20003", "backend_clustering_mode = 'raw'",
            "listen_addresses = '127.0.0.1'", "pcp_listen_addresses = ''"} <= lines
    assert PgpoolSettings(num_init_children=3, max_pool=2).max_server_connections == 6
