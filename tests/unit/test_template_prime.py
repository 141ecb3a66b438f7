"""The template primes the instance runtime once before it forks (harness.apphost.template)."""

from __future__ import annotations

import sys
import types

import pytest

from harness.apphost.template import prime
from harness.platform import instance


def test_the_runtime_prime_runs_once_and_its_failure_is_the_template_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    good = types.ModuleType("good_runtime")
    good.prime = lambda: calls.append(1)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "good_runtime", good)
    assert prime("good_runtime") == "" and calls == [1]

    def broken() -> None:
        raise RuntimeError("no loop here")

    bad = types.ModuleType("bad_runtime")
    bad.prime = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bad_runtime", bad)
    assert prime("bad_runtime") == "prime 'bad_runtime': RuntimeError: no loop here"
    monkeypatch.setitem(sys.modules, "plain_runtime", types.ModuleType("plain_runtime"))
    assert prime("plain_runtime") == ""  # a runtime without prime (the apphost's) is fine


def test_the_builtin_runtime_primes_without_a_database() -> None:
    instance.prime()  # event loops, streams and frames only: no DSN, no handler call


def test_the_template_arguments_skip_argparse_and_anything_else_goes_to_it() -> None:
    argv = ["--fd", "7", "--instance", "i3", "--handler", "m:f"]
    assert instance._template_args(argv) == (7, "i3", "m:f")
    assert instance._template_args(["--instance", "i3", "--fd", "7", "--handler", "m:f"]) is None
    assert instance._template_args(["--fd", "x", "--instance", "i3", "--handler", "m:f"]) is None
    assert instance._template_args(["--fd", "²", "--instance", "i3", "--handler", "m:f"]) is None
    assert instance._template_args(None) is None
    with pytest.raises(SystemExit) as ended:  # argparse's own message for a bad command line
        instance.main(["--fd", "x"])
    assert ended.value.code == 2
