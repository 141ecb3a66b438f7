"""Order confirmations, sent after the response (a FastAPI background task)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from shop.models import Email


async def send_order_confirmation(
    sessions: async_sessionmaker[Any], order_id: int, recipient: str, delay_s: float
) -> None:
    """Talk to the mail provider (a sleep), then record the email as sent."""
    await asyncio.sleep(delay_s)
    async with sessions() as session, session.begin():
        session.add(
            Email(order_id=order_id, recipient=recipient, subject=f"Your order #{order_id}")
        )
