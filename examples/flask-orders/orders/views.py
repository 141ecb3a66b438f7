"""The HTTP API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

bp = Blueprint("orders", __name__)


def pool() -> ConnectionPool:
    found: ConnectionPool = current_app.extensions["db_pool"]
    return found


@bp.get("/health")
def health() -> ResponseReturnValue:
    return {"ok": True}


@bp.get("/orders")
def recent_orders() -> ResponseReturnValue:
    limit = min(request.args.get("limit", 20, type=int), 100)
    with pool().connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT id, customer, sku, quantity FROM orders ORDER BY id DESC LIMIT %s", (limit,)
        )
        return jsonify(cur.fetchall())


@bp.get("/orders/<int:order_id>")
def get_order(order_id: int) -> ResponseReturnValue:
    with pool().connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT id, customer, sku, quantity FROM orders WHERE id = %s", (order_id,))
        row = cur.fetchone()
    if row is None:
        abort(404)
    return row


@bp.post("/orders")
def create_order() -> ResponseReturnValue:
    body: Any = request.get_json(silent=True)
    if not isinstance(body, dict) or not body.get("customer") or not body.get("sku"):
        return {"error": "customer and sku are required"}, 400
    quantity = int(body.get("quantity", 1))
    with pool().connection() as conn:
        row = conn.execute(
            "INSERT INTO orders (customer, sku, quantity) VALUES (%s, %s, %s) RETURNING id",
            (body["customer"], body["sku"], quantity),
        ).fetchone()
    assert row is not None
    return {"id": row[0], "customer": body["customer"], "sku": body["sku"],
            "quantity": quantity}, 201
