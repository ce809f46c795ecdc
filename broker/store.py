"""The connector's SQL records (venue orders, fills, won RFQs) and its outbox events.

Every write is its own short transaction on the connector's thread, committed
before the message it describes is sent, so a restart finds everything sent."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import delete, select

from broker.messages import OrderToSend
from broker.models import BrokerQuoteRow, BrokerRfqRow, BrokerVenueProgressRow, VenueFillRow, VenueOrderRow
from broker.orders import ExecutedFill, OrderState, PlacedOrder
from broker.ports import QuoteRecord
from broker.refs import RfqRef
from broker.state import BROKER_TRANSITIONS, BrokerRfq, BrokerRfqState
from core.events import DomainEvent
from core.types import Side
from ledger.uow import SqlUnitOfWork
from marketcal.sessions import EXCHANGE_TZ

TEXT_LENGTH = 256  # characters: the text columns' width; longer venue texts are cut, never refused
VENUE_PROGRESS_KEY = "venue"  # the connector has one venue session


class BrokerStore:
    """Implements the broker's RfqStore, OrderStore and TokenBook ports on SQL."""

    def __init__(self, uow_factory: Callable[[], SqlUnitOfWork]) -> None:
        self._uow_factory = uow_factory

    # -- writes ------------------------------------------------------------------------
    def save_rfq(self, rfq: BrokerRfq, events: Sequence[DomainEvent] = ()) -> None:
        with self._uow_factory() as uow:
            uow.session.merge(_rfq_row(rfq))
            _add_events(uow, events)
            uow.commit()

    def save_new_order(self, order: PlacedOrder, events: Sequence[DomainEvent] = ()) -> None:
        self.save_order(order, None, events)

    def save_order(self, order: PlacedOrder, fill: ExecutedFill | None = None,
                   events: Sequence[DomainEvent] = ()) -> None:
        with self._uow_factory() as uow:
            uow.session.merge(_order_row(order))
            uow.session.flush()
            if fill is not None and uow.session.get(VenueFillRow, fill.exec_id) is None:
                uow.session.add(_fill_row(order, fill))
                if fill.venue_seq is not None:  # with the fill, in its transaction (broker/recovery.py)
                    uow.session.merge(BrokerVenueProgressRow(session=VENUE_PROGRESS_KEY, last_trade_seq=fill.venue_seq,
                                                             updated_at=fill.executed_at))
            _add_events(uow, events)
            uow.commit()

    def last_venue_trade_seq(self) -> int | None:
        """The venue session's MsgSeqNum of the last trade report committed (None: none yet)."""
        with self._uow_factory() as uow:
            row = uow.session.get(BrokerVenueProgressRow, VENUE_PROGRESS_KEY)
            return None if row is None else row.last_trade_seq

    def save_quote(self, quote: QuoteRecord, at: datetime) -> None:
        with self._uow_factory() as uow:
            uow.session.merge(BrokerQuoteRow(
                quote_id=quote.quote_id, quote_req_id=quote.quote_req_id, symbol=quote.symbol,
                side=quote.side.value, quantity=quote.quantity, bid=quote.bid, ask=quote.ask,
                margin_bps=quote.margin_bps, valid_until=quote.valid_until, created_at=at))
            uow.commit()

    def load_quote(self, quote_id: str) -> QuoteRecord | None:
        with self._uow_factory() as uow:
            row = uow.session.get(BrokerQuoteRow, quote_id)
            if row is None:
                return None
            return QuoteRecord(row.quote_id, row.quote_req_id, row.symbol, Side(row.side), row.quantity, row.bid,
                               row.ask, row.margin_bps, row.valid_until)

    def forget_quotes(self, valid_before: datetime) -> int:
        """Quotes no acceptance can come for any more (bounded storage); returns how many went."""
        with self._uow_factory() as uow:
            result = uow.session.execute(delete(BrokerQuoteRow).where(BrokerQuoteRow.valid_until < valid_before))
            uow.commit()
            return int(getattr(result, "rowcount", 0) or 0)

    def balance_of(self, account: str, asset: str) -> tuple[Decimal, Decimal]:
        """(available, locked) in the settlement ledger (broker.capacity.LedgerBalances)."""
        with self._uow_factory() as uow:
            balance = uow.ledger.balance(account, asset)
        return balance.available, balance.locked

    # -- custody's ledger side: tokens exist exactly while shares sit at custody ---------------
    def mint_tokens(self, account: str, symbol: str, quantity: Decimal, rfq: RfqRef) -> None:
        """Shares bought at the venue arrived at custody: the same number of tokens come into being."""
        with self._uow_factory() as uow:
            uow.ledger.deposit(account, symbol, quantity, idempotency_key=f"mint:{rfq}")
            uow.commit()

    def burn_tokens(self, account: str, symbol: str, quantity: Decimal, rfq: RfqRef) -> None:
        """Shares sold at the venue left custody: their tokens are withdrawn from the bridge account."""
        with self._uow_factory() as uow:
            uow.ledger.transfer(account, "external", symbol, quantity, idempotency_key=f"burn:{rfq}",
                                description=f"withdraw {symbol} tokens for {rfq}")
            uow.commit()

    # -- reads (after a restart, and for a repeated acceptance) ---------------------------------
    def open_rfqs(self) -> list[BrokerRfq]:
        with self._uow_factory() as uow:
            open_states = [state.value for state in BrokerRfqState if not BROKER_TRANSITIONS.is_terminal(state)]
            found = uow.session.scalars(select(BrokerRfqRow).where(BrokerRfqRow.state.in_(open_states))).all()
            return [_rfq_from_row(row) for row in found]

    def knows_acceptance(self, quote_resp_id: str) -> bool:
        with self._uow_factory() as uow:
            found = uow.session.scalar(select(BrokerRfqRow.rfq_id)
                                       .where(BrokerRfqRow.quote_resp_id == quote_resp_id).limit(1))
            return found is not None

    def orders_of(self, rfq_refs: Sequence[RfqRef]) -> list[PlacedOrder]:
        with self._uow_factory() as uow:
            found = uow.session.scalars(select(VenueOrderRow).where(VenueOrderRow.rfq_id.in_(rfq_refs))).all()
            fills = uow.session.scalars(select(VenueFillRow).where(
                VenueFillRow.cl_ord_id.in_([row.cl_ord_id for row in found]))).all()
            seen: dict[str, frozenset[str]] = {}
            for fill in fills:
                seen[fill.cl_ord_id] = seen.get(fill.cl_ord_id, frozenset()) | {fill.exec_id}
            return [_order_from_row(row, seen.get(row.cl_ord_id, frozenset())) for row in found]


def _add_events(uow: SqlUnitOfWork, events: Sequence[DomainEvent]) -> None:
    for event in events:
        uow.add_event(event.event_type, event.payload(), rfq_id=event.rfq_id, occurred_at=event.occurred_at)


def _cut(text: str | None) -> str | None:
    return (text or "")[:TEXT_LENGTH] or None


def _rfq_row(rfq: BrokerRfq) -> BrokerRfqRow:
    return BrokerRfqRow(
        rfq_id=rfq.rfq_ref, quote_resp_id=rfq.quote_resp_id, symbol=rfq.symbol, side=rfq.side.value,
        quantity=rfq.quantity, quoted_price=rfq.quoted_price, margin_bps=rfq.margin_bps, state=rfq.state.value,
        filled_quantity=rfq.filled_quantity, venue_average=rfq.venue_average, settle_price=rfq.settle_price,
        text=_cut(rfq.text), updated_at=rfq.updated_at, settle_by=rfq.settle_by, nbbo_bid=rfq.nbbo_bid,
        nbbo_offer=rfq.nbbo_offer)


def _rfq_from_row(row: BrokerRfqRow) -> BrokerRfq:
    return BrokerRfq(rfq_ref=RfqRef(row.rfq_id), quote_resp_id=row.quote_resp_id, symbol=row.symbol,
                     side=Side(row.side), quantity=row.quantity, quoted_price=row.quoted_price,
                     margin_bps=row.margin_bps, state=BrokerRfqState(row.state), filled_quantity=row.filled_quantity,
                     venue_average=row.venue_average, settle_price=row.settle_price, text=row.text,
                     updated_at=row.updated_at, settle_by=row.settle_by, nbbo_bid=row.nbbo_bid,
                     nbbo_offer=row.nbbo_offer)


def _order_row(order: PlacedOrder) -> VenueOrderRow:
    sent = order.order
    return VenueOrderRow(
        cl_ord_id=sent.cl_ord_id, rfq_id=order.rfq_ref, attempt=order.attempt, quote_resp_id=order.quote_resp_id,
        symbol=sent.symbol, side=sent.side.value, quantity=sent.quantity, limit_price=sent.limit_price,
        quoted_price=order.quoted_price, state=order.state.value, cum_quantity=order.cum_quantity,
        notional=order.notional, venue_order_id=order.venue_order_id, reported=order.is_done,
        text=_cut(order.last_text), sent_at=sent.sent_at, updated_at=order.last_news_at or sent.sent_at)


def _order_from_row(row: VenueOrderRow, seen_exec_ids: frozenset[str]) -> PlacedOrder:
    sent = OrderToSend(row.cl_ord_id, row.symbol, Side(row.side), row.quantity, row.limit_price, row.sent_at)
    return PlacedOrder(order=sent, quote_resp_id=row.quote_resp_id, quoted_price=row.quoted_price,
                       rfq_ref=RfqRef(row.rfq_id), attempt=row.attempt, state=OrderState(row.state),
                       venue_order_id=row.venue_order_id, last_news_at=row.updated_at, cum_quantity=row.cum_quantity,
                       notional=row.notional, last_text=row.text, seen_exec_ids=seen_exec_ids)


def _fill_row(order: PlacedOrder, fill: ExecutedFill) -> VenueFillRow:
    return VenueFillRow(
        exec_id=fill.exec_id, cl_ord_id=order.order.cl_ord_id, venue_order_id=fill.venue_order_id or "",
        symbol=order.order.symbol, side=order.order.side.value, quantity=fill.quantity,
        price=fill.price, nbbo_bid=fill.nbbo_bid, nbbo_offer=fill.nbbo_offer, executed_at=fill.executed_at,
        trade_date=fill.executed_at.astimezone(EXCHANGE_TZ).date())
