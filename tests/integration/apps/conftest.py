"""Session fixtures: the example apps' own virtualenvs (built once, cached in /tmp)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.apps.venvs import app_venv

ROOT = Path(__file__).parents[3]
EXAMPLES = ROOT / "examples"
HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def shop_python() -> Path:
    """The FastAPI + SQLAlchemy example's interpreter."""
    return app_venv(EXAMPLES / "fastapi-shop" / "requirements.txt")


@pytest.fixture(scope="session")
def orders_python() -> Path:
    """The Flask + psycopg example's interpreter."""
    return app_venv(EXAMPLES / "flask-orders" / "requirements.txt")


@pytest.fixture(scope="session")
def oldstar_python() -> Path:
    """The test app's interpreter: a Starlette and uvicorn older than pgstampede's."""
    return app_venv(HERE / "oldstar" / "requirements.txt")


@pytest.fixture(scope="session")
def django_python() -> Path:
    """The Django test app's interpreter (a framework none of the examples use)."""
    return app_venv(HERE / "djangonotes" / "requirements.txt")


@pytest.fixture(scope="session")
def olduvicorn_python() -> Path:
    """An app environment pinned to uvicorn 0.18.3, older than pgstampede's flags."""
    return app_venv(HERE / "olduvicorn" / "requirements.txt")
