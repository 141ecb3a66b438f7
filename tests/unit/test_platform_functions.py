"""Functions (harness/platform/functions.py): routes matched as the Node host matches them."""

from __future__ import annotations

import pytest

from harness.platform.functions import Route


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("/api/orders", "/api/orders", True),
    ("/api/orders", "/api/orders/", True),
    ("/api/orders", "/api/orders/1", False),
    ("/api/orders", "/api", False),
    ("/api/orders/[id]", "/api/orders/42", True),
    ("/api/orders/[id]", "/api/orders", False),
    ("/api/orders/[id]", "/api/orders/42/items", False),
    ("/api/[...slug]", "/api/a/b", True),
    ("/api/[...slug]", "/api", False),
    ("/api/[[...slug]]", "/api", True),
    ("/[[...path]]", "/anything/at/all", True),
    ("/[[...path]]", "/", True),
])
def test_route_matches(pattern: str, path: str, matches: bool) -> None:
    assert Route.parse(pattern).matches(path) is matches


def test_a_static_route_ranks_before_a_dynamic_one() -> None:
    routes = sorted(map(Route.parse, ["/[[...path]]", "/api/[id]", "/api/orders",
                                      "/api/[...rest]"]), key=lambda r: r.rank)
    assert [r.pattern for r in routes] == ["/api/orders", "/api/[id]", "/api/[...rest]",
                                           "/[[...path]]"]
