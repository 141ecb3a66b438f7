"""A small shop: FastAPI + SQLAlchemy 2 (async, asyncpg), as such services are usually written."""
