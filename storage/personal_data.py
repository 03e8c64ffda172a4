"""Queries for personal-data erasure (bot/services/erasure.py): find every row tied to a customer."""
from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Customer, OutboxMessage, ServiceRequest


class PersonalDataRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def customer_for_update(self, customer_id: int) -> Customer | None:
        """The customer row, locked on PostgreSQL so two erasures of one customer run one after the other."""
        query = select(Customer).where(Customer.id == customer_id).with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def customers_with_phone(self, phones: Collection[str]) -> list[Customer]:
        """Every customer record whose phone is one of these spellings, the oldest first (sales may
        have filed one for the phone before its owner registered with it: two records)."""
        query = select(Customer).where(Customer.phone.in_(list(phones))).order_by(Customer.id)
        return list((await self.session.execute(query)).scalars())

    async def requests_of(self, customer_id: int) -> list[ServiceRequest]:
        query = select(ServiceRequest).where(ServiceRequest.customer_id == customer_id).order_by(ServiceRequest.id)
        return list((await self.session.execute(query)).scalars())

    async def pending_outbox(self, kind: str) -> list[OutboxMessage]:
        """Messages of this kind not sent yet, to anybody (their texts may mention the customer)."""
        query = select(OutboxMessage).where(OutboxMessage.kind == kind, OutboxMessage.sent_at.is_(None)).order_by(OutboxMessage.id)
        return list((await self.session.execute(query)).scalars())

    async def rows(self, model: type[Any], column: str, values: Collection[int]) -> list[Any]:
        """Every row of `model` whose `column` is one of `values` (ids of requests, a customer…)."""
        if not values:
            return []
        query = select(model).where(getattr(model, column).in_(list(values))).order_by(model.id)
        return list((await self.session.execute(query)).scalars())
