"""The broker's venue fills as the reconciliation's "our trades" (recon.service.TradeSource).

Reads use Core selects of plain columns (no ORM objects): a day can hold 100,000 fills."""
from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.models import BrokerRfqRow, VenueFillRow, VenueOrderRow
from broker.state import BrokerRfqState
from recon.reconciliation import OurTrade, UnsettledFill

# Bound the size of one IN (...) list; PostgreSQL and SQLite both cope, but parameters are not free.
ID_LOOKUP_CHUNK = 1000


class BrokerVenueTrades:
    """Our venue fills of a New York trade date, by trade id (the venue's exec_id)."""

    def our_trades(self, session: Session, trade_date: date) -> dict[str, OurTrade]:
        return load_our_trades(session, trade_date)

    def trade_dates(self, session: Session, trade_ids: Collection[str]) -> dict[str, date]:
        return find_trade_dates(session, trade_ids)

    def unsettled_fills(self, session: Session, trade_date: date) -> list[UnsettledFill]:
        return load_unsettled_fills(session, trade_date)


def load_our_trades(session: Session, trade_date: date) -> dict[str, OurTrade]:
    """Our venue fills of one New York trade date, by trade id (exec_id)."""
    statement = select(VenueFillRow.exec_id, VenueFillRow.symbol, VenueFillRow.side, VenueFillRow.quantity,
                       VenueFillRow.price).where(VenueFillRow.trade_date == trade_date)
    return {trade_id: OurTrade(trade_id, symbol, side, quantity, price)
            for trade_id, symbol, side, quantity, price in session.execute(statement)}


def find_trade_dates(session: Session, trade_ids: Collection[str]) -> dict[str, date]:
    """The trade date we recorded for each of `trade_ids` that we have at all."""
    wanted = sorted(trade_ids)
    found: dict[str, date] = {}
    for start in range(0, len(wanted), ID_LOOKUP_CHUNK):
        chunk = wanted[start:start + ID_LOOKUP_CHUNK]
        statement = select(VenueFillRow.exec_id, VenueFillRow.trade_date).where(VenueFillRow.exec_id.in_(chunk))
        found.update({trade_id: trade_date for trade_id, trade_date in session.execute(statement)})
    return found


def load_unsettled_fills(session: Session, trade_date: date) -> list[UnsettledFill]:
    """Venue fills of the trade date whose RFQ the gateway has not acknowledged as settled (the
    broker's RFQ is Filled only on the gateway's ExecutionAcknowledgement 1036=1)."""
    statement = (
        select(VenueFillRow.exec_id, VenueFillRow.symbol, VenueFillRow.side, VenueFillRow.quantity,
               VenueFillRow.price, BrokerRfqRow.rfq_id, BrokerRfqRow.state)
        .join(VenueOrderRow, VenueOrderRow.cl_ord_id == VenueFillRow.cl_ord_id)
        .outerjoin(BrokerRfqRow, BrokerRfqRow.rfq_id == VenueOrderRow.rfq_id)
        .where(VenueFillRow.trade_date == trade_date)
        .where((BrokerRfqRow.state.is_(None)) | (BrokerRfqRow.state != BrokerRfqState.FILLED.value))
    )
    return [UnsettledFill(OurTrade(trade_id, symbol, side, quantity, price), rfq_ref, state)
            for trade_id, symbol, side, quantity, price, rfq_ref, state in session.execute(statement)]
