"""The connector's SQL records (venue orders, fills, won RFQs) and its outbox events.

Every write is its own short transaction on the connector's thread, committed
before the message it describes is sent, so a restart finds everything sent."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from broker import models as rows
from broker.messages import OrderToSend, VenueExecution
from broker.orders import OrderState, VenueOrder
from broker.state import TERMINAL_BROKER_STATES, BrokerRfq, BrokerRfqState
from core.events import DomainEvent
from core.types import Side
from marketcal.sessions import EXCHANGE_TZ


class BrokerStore:
    def __init__(self, uow_factory: Callable[[], Any]) -> None:
        self._uow_factory = uow_factory

    # -- writes ------------------------------------------------------------------------
    def save_rfq(self, rfq: BrokerRfq, events: list[DomainEvent] = ()) -> None:
        with self._uow_factory() as uow:
            uow.session.merge(_rfq_row(rfq))
            for event in events:
                uow.add_event(event.event_type, event.payload(), rfq_id=event.rfq_id, occurred_at=event.occurred_at)
            uow.commit()

    def save_new_order(self, order: VenueOrder, events: list[DomainEvent] = ()) -> None:
        self.save_order(order, None, events)

    def save_order(self, order: VenueOrder, fill: VenueExecution | None = None,
                   events: list[DomainEvent] = ()) -> None:
        with self._uow_factory() as uow:
            uow.session.merge(_order_row(order))
            uow.session.flush()
            if fill is not None and uow.session.get(rows.VenueFill, fill.exec_id) is None:
                uow.session.add(_fill_row(order, fill))
            for event in events:
                uow.add_event(event.event_type, event.payload(), rfq_id=event.rfq_id, occurred_at=event.occurred_at)
            uow.commit()

    # -- custody's ledger side: tokens exist exactly while shares sit at custody ---------------
    def mint_tokens(self, account: str, symbol: str, quantity: Decimal, rfq_id: int) -> None:
        """Shares bought at the venue arrived at custody: the same number of tokens come into being."""
        with self._uow_factory() as uow:
            uow.ledger.deposit(account, symbol, quantity, idempotency_key=f"mint:rfq-{rfq_id}")
            uow.commit()

    def burn_tokens(self, account: str, symbol: str, quantity: Decimal, rfq_id: int) -> None:
        """Shares sold at the venue left custody: their tokens are withdrawn from the bridge account."""
        with self._uow_factory() as uow:
            uow.ledger.transfer(account, "external", symbol, quantity, idempotency_key=f"burn:rfq-{rfq_id}",
                                description=f"withdraw {symbol} tokens for rfq {rfq_id}")
            uow.commit()

    # -- reads (after a restart) -------------------------------------------------------------
    def open_rfqs(self) -> list[BrokerRfq]:
        with self._uow_factory() as uow:
            open_states = [s.value for s in BrokerRfqState if s not in TERMINAL_BROKER_STATES]
            found = uow.session.scalars(select(rows.BrokerRfq).where(rows.BrokerRfq.state.in_(open_states))).all()
            return [_rfq_from_row(row) for row in found]

    def orders_of(self, rfq_ids: list[int]) -> list[VenueOrder]:
        with self._uow_factory() as uow:
            found = uow.session.scalars(select(rows.VenueOrder).where(rows.VenueOrder.rfq_id.in_(rfq_ids))).all()
            fills = uow.session.scalars(select(rows.VenueFill).where(
                rows.VenueFill.cl_ord_id.in_([row.cl_ord_id for row in found]))).all()
            seen: dict[str, frozenset[str]] = {}
            for fill in fills:
                seen[fill.cl_ord_id] = seen.get(fill.cl_ord_id, frozenset()) | {fill.exec_id}
            return [_order_from_row(row, seen.get(row.cl_ord_id, frozenset())) for row in found]


def _rfq_row(rfq: BrokerRfq) -> rows.BrokerRfq:
    return rows.BrokerRfq(
        rfq_id=rfq.rfq_id, quote_resp_id=rfq.quote_resp_id, symbol=rfq.symbol, side=rfq.side.value,
        quantity=rfq.quantity, quoted_price=rfq.quoted_price, margin_bps=rfq.margin_bps, state=rfq.state.value,
        filled_quantity=rfq.filled_quantity, venue_average=rfq.venue_average, settle_price=rfq.settle_price,
        text=(rfq.text or "")[:256] or None, updated_at=rfq.updated_at)


def _rfq_from_row(row: rows.BrokerRfq) -> BrokerRfq:
    return BrokerRfq(rfq_id=row.rfq_id, quote_resp_id=row.quote_resp_id, symbol=row.symbol, side=Side(row.side),
                     quantity=row.quantity, quoted_price=row.quoted_price, margin_bps=row.margin_bps,
                     state=BrokerRfqState(row.state), filled_quantity=row.filled_quantity,
                     venue_average=row.venue_average, settle_price=row.settle_price, text=row.text,
                     updated_at=row.updated_at)


def _order_row(order: VenueOrder) -> rows.VenueOrder:
    sent = order.order
    return rows.VenueOrder(
        cl_ord_id=sent.cl_ord_id, rfq_id=order.rfq_id, attempt=order.attempt, quote_resp_id=order.quote_resp_id,
        symbol=sent.symbol, side=sent.side.value, quantity=sent.quantity, limit_price=sent.limit_price,
        quoted_price=order.quoted_price, state=order.state.value, cum_quantity=order.cum_quantity,
        notional=order.notional, venue_order_id=order.venue_order_id, reported=order.is_done,
        text=(order.last_text or "")[:256] or None, sent_at=sent.sent_at,
        updated_at=order.last_news_at or sent.sent_at)


def _order_from_row(row: rows.VenueOrder, seen_exec_ids: frozenset[str]) -> VenueOrder:
    sent = OrderToSend(row.cl_ord_id, row.symbol, Side(row.side), row.quantity, row.limit_price, row.sent_at)
    return VenueOrder(order=sent, quote_resp_id=row.quote_resp_id, quoted_price=row.quoted_price,
                      rfq_id=row.rfq_id, attempt=row.attempt, state=OrderState(row.state),
                      venue_order_id=row.venue_order_id, last_news_at=row.updated_at, cum_quantity=row.cum_quantity,
                      notional=row.notional, last_text=row.text, seen_exec_ids=seen_exec_ids)


def _fill_row(order: VenueOrder, fill: VenueExecution) -> rows.VenueFill:
    executed_at: datetime = fill.transact_time or order.last_news_at
    assert fill.last_price is not None and fill.last_quantity is not None
    return rows.VenueFill(
        exec_id=fill.exec_id, cl_ord_id=order.order.cl_ord_id, venue_order_id=fill.order_id or "",
        symbol=order.order.symbol, side=order.order.side.value, quantity=fill.last_quantity,
        price=fill.last_price, nbbo_bid=fill.nbbo_bid, nbbo_offer=fill.nbbo_offer, executed_at=executed_at,
        trade_date=executed_at.astimezone(EXCHANGE_TZ).date())
