from __future__ import annotations

import json
from pathlib import Path

from harness.results.redact import redact, redact_text
from harness.results.store import write_json


def test_url_and_keyword_passwords_are_masked() -> None:
    assert redact_text("postgresql://app:s3cr3t@127.0.0.1:5432/app") == \
        "postgresql://app:***@127.0.0.1:5432/app"
    assert redact_text("host=127.0.0.1 password=s3cr3t user=x") == \
        "host=127.0.0.1 password=*** user=x"
    assert redact_text("postgresql://app@127.0.0.1/app") == "postgresql://app@127.0.0.1/app"
    assert redact_text("http://127.0.0.1:8000/items") == "http://127.0.0.1:8000/items"


def test_nested_values_and_files(tmp_path: Path) -> None:
    data = {"a": ["postgresql://u:topsecret@h/db", {"b": "password='topsecret'"}], "n": 3}
    assert "topsecret" not in json.dumps(redact(data))
    write_json(tmp_path / "m.json", data)
    assert "topsecret" not in (tmp_path / "m.json").read_text()


def test_values_of_secret_names_are_masked(tmp_path: Path) -> None:
    """An app's environment in the manifest: SECRET_KEY's value never reaches a file."""
    data = {"app": {"env": {"SECRET_KEY": "hunter2", "DB_PASSWORD": "pw1", "GITHUB_TOKEN": "t",
                            "LOG_LEVEL": "info", "POOL_SIZE": "5"}}}
    write_json(tmp_path / "m.json", data)
    written = json.loads((tmp_path / "m.json").read_text())
    assert written["app"]["env"] == {"SECRET_KEY": "***", "DB_PASSWORD": "***",
                                     "GITHUB_TOKEN": "***", "LOG_LEVEL": "info",
                                     "POOL_SIZE": "5"}
