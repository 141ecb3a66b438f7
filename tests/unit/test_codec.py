"""The one JSON codec: records to JSON and back, strictly, with errors naming source and field."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from harness.results.codec import DecodeError, decode, dumps, encode, loads


@dataclass(frozen=True)
class Sample:
    t: float
    host: str


@dataclass(frozen=True)
class Plan:
    name: str
    think_s: tuple[float, float]
    headers: tuple[tuple[str, str], ...]
    cpu: tuple[tuple[float, float, float], ...]
    samples: list[Sample]
    env: dict[str, str]
    extra: dict[str, Any]
    mode: Literal["a", "b"] = "a"
    rc: int | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


PLAN = Plan(name="p", think_s=(0.5, 1.0), headers=(("A", "b"),), cpu=((1.0, 2.0, 3.5),),
            samples=[Sample(1.5, "h")], env={"K": "v"}, extra={"any": [1, "x"]}, mode="b", rc=3,
            tags=("x",))


def test_a_record_round_trips_through_json_text() -> None:
    text = dumps(PLAN, indent=2)
    assert json.loads(text)["think_s"] == [0.5, 1.0]
    assert loads(Plan, text, "plan.json") == PLAN


def test_fixed_tuples_keep_their_length() -> None:
    data = encode(PLAN)
    data["think_s"] = [0.5]
    with pytest.raises(DecodeError, match=r"plan: think_s: expected a list of 2, got \[0.5\]"):
        decode(Plan, data, "plan")
    data = encode(PLAN)
    data["cpu"] = [[1.0, "x", 2.0]]
    with pytest.raises(DecodeError, match=r"cpu\[0\]\[1\]: expected a number"):
        decode(Plan, data, "plan")


def test_missing_keys_take_defaults_only_when_asked() -> None:
    data = {k: v for k, v in encode(PLAN).items() if k not in ("mode", "rc", "tags")}
    with pytest.raises(DecodeError, match="mode: expected a value") as err:
        decode(Plan, data, "plan")
    assert (err.value.source, err.value.where) == ("plan", "mode")
    back = decode(Plan, data, "plan", defaults=True)
    assert (back.mode, back.rc, back.tags) == ("a", None, ())
    del data["name"]
    with pytest.raises(DecodeError, match="plan: name: expected a value"):
        decode(Plan, data, "plan", defaults=True)


def test_errors_name_the_source_and_the_path_to_the_value() -> None:
    data = encode(PLAN)
    data["samples"][0]["t"] = "soon"
    with pytest.raises(DecodeError) as err:
        decode(Plan, data, "stats")
    assert str(err.value) == "stats: samples[0].t: expected a number, got 'soon'"
    assert (err.value.where, err.value.expected, err.value.got) == ("samples[0].t", "a number",
                                                                    "soon")


def test_text_that_is_not_json_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="plan.json: top level: expected valid JSON"):
        loads(Plan, "{", "plan.json")
    with pytest.raises(DecodeError, match=r"plan.json: top level: expected an object \(Plan\)"):
        loads(Plan, "[1]", "plan.json")


def test_non_finite_floats_are_written_as_null() -> None:
    assert json.loads(dumps({"x": float("nan"), "y": [float("inf")]})) == {"x": None, "y": [None]}
