"""The built-in targets' settings from the environment (targets.shared.settings)."""

from __future__ import annotations

import pytest

from harness.services.target import SSL_OF_OUR_SERVERS
from targets.shared.settings import TargetSettings

DSN = {"PGSTAMPEDE_DSN": "postgresql://app@127.0.0.1:5432/app"}


def test_ssl_disable_connects_without_asking_for_tls() -> None:
    kwargs = TargetSettings.from_env({**DSN, "PGSTAMPEDE_SSL": "disable"}).connect_kwargs()
    assert kwargs["ssl"] is False
    assert "ssl" not in TargetSettings.from_env(DSN).connect_kwargs()  # asyncpg's default
    assert SSL_OF_OUR_SERVERS == "disable"  # the harness's servers have no TLS


def test_an_unknown_ssl_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="PGSTAMPEDE_SSL='require'"):
        TargetSettings.from_env({**DSN, "PGSTAMPEDE_SSL": "require"})
