"""Probe values of /set_state: distinct, odd, within statement_timeout's range (pure)."""

from __future__ import annotations

from targets.shared.session_state import PROBE_BASE_MS, PROBE_MAX_MS, is_probe_value, probe_value


def test_probe_values_are_distinct_valid_timeouts_and_recognised() -> None:
    values = [probe_value() for _ in range(5000)]
    assert len(set(values)) == len(values)
    assert all(is_probe_value(v) for v in values)
    assert PROBE_MAX_MS <= 2**31 - 1  # the largest statement_timeout PostgreSQL accepts


def test_defaults_and_real_timeouts_are_not_probe_values() -> None:
    assert not is_probe_value(0)
    assert not is_probe_value(30_000)
    assert not is_probe_value(PROBE_BASE_MS + 1)  # even
    assert not is_probe_value(PROBE_MAX_MS + 2)


def test_a_forked_process_draws_its_own_probe_values() -> None:
    import os

    read, write = os.pipe()
    parent_first = probe_value()
    pid = os.fork()
    if pid == 0:  # the child: what a forked instance would use
        os.write(write, str(probe_value()).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = int(os.read(read, 64))
    os.close(read)
    os.close(write)
    assert is_probe_value(child)
    assert child not in (parent_first, probe_value() - 2, parent_first + 2)
