"""The shop's HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shop.db import make_engine, make_sessionmaker, open_pool
from shop.emails import send_order_confirmation
from shop.models import Order, Product
from shop.settings import Settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = Settings.from_env()
    engine = make_engine(settings)
    await open_pool(engine, settings.pool_size)
    app.state.settings = settings
    app.state.sessions = make_sessionmaker(engine)
    yield
    await engine.dispose()


app = FastAPI(title="shop", lifespan=lifespan)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]


class ProductOut(BaseModel):
    id: int
    name: str
    price_cents: int


class OrderIn(BaseModel):
    product_id: int = Field(ge=1)
    quantity: int = Field(default=1, ge=1, le=100)
    email: str


class OrderOut(BaseModel):
    id: int
    product_id: int
    quantity: int
    total_cents: int


@app.get("/health")
async def health() -> dict[str, bool]:
    return {"ok": True}


@app.get("/products")
async def list_products(session: Session, limit: int = 20) -> list[ProductOut]:
    rows = await session.scalars(select(Product).order_by(Product.id).limit(min(limit, 100)))
    return [ProductOut(id=p.id, name=p.name, price_cents=p.price_cents) for p in rows]


@app.get("/products/{product_id}")
async def get_product(product_id: int, session: Session) -> ProductOut:
    product = await session.get(Product, product_id)
    if product is None:
        raise HTTPException(status_code=404, detail="no such product")
    return ProductOut(id=product.id, name=product.name, price_cents=product.price_cents)


@app.post("/orders", status_code=201)
async def create_order(
    order_in: OrderIn, session: Session, request: Request, background: BackgroundTasks
) -> OrderOut:
    product = await session.get(Product, order_in.product_id)
    if product is None:
        raise HTTPException(status_code=404, detail="no such product")
    order = Order(
        product_id=product.id,
        quantity=order_in.quantity,
        email=order_in.email,
        total_cents=product.price_cents * order_in.quantity,
    )
    session.add(order)
    await session.commit()
    state: Any = request.app.state
    background.add_task(
        send_order_confirmation, state.sessions, order.id, order.email,
        state.settings.email_delay_s,
    )
    return OrderOut(
        id=order.id, product_id=order.product_id, quantity=order.quantity,
        total_cents=order.total_cents,
    )
