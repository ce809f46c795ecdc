"""What the fault harness proves after its rounds, read from the databases and the requester's
journal once every process has stopped."""
from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from broker.models import BrokerRfqRow, VenueFillRow
from broker.recon_source import load_unsettled_fills
from gateway.models import FillRow, RfqRow
from ledger.audit import audit_ledger
from venue_sim.store import store_path

TERMINAL_STATES = {"Filled", "Expired", "Rejected", "Canceled"}


@dataclass
class Outcome:
    rfqs: dict[str, str]  # the requester's QuoteReqID -> the gateway's final state
    problems: list[str]
    venue_fills: int
    unsettled_venue_fills: int

    def summary(self) -> str:
        states = Counter(self.rfqs.values())
        return (f"{len(self.rfqs)} RFQs {dict(sorted(states.items()))}, {self.venue_fills} venue fills, "
                f"{self.unsettled_venue_fills} unsettled")


def read_journal(path: Path) -> tuple[list[str], dict[str, list[dict[int, str]]], list[str]]:
    """(ids sent, messages per id, message types) from the requester's journal."""
    sent: list[str] = []
    by_id: dict[str, list[dict[int, str]]] = {}
    types: list[str] = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if "sent" in record:
            sent.append(record["sent"])
        elif "type" in record:
            fields = {int(tag): value for tag, value in record["fields"]}
            fields[35] = record["type"]
            types.append(record["type"])
            key = fields.get(11) if record["type"] == "8" else fields.get(131)
            if key is not None:
                by_id.setdefault(key, []).append(fields)
    return sent, by_id, types


def is_final(message: dict[int, str]) -> bool:
    match message[35]:
        case "8":
            return message.get(39) in ("2", "8") or message.get(150) == "3"
        case "AI":
            return message.get(297) in ("4", "7")
        case "AG":
            return True
    return False


def tells_filled(message: dict[int, str]) -> bool:
    return message[35] == "8" and (message.get(39) == "2" or message.get(150) == "3")


def check_requester(rfqs: dict[str, str], sent: list[str], by_id: dict[str, list[dict[int, str]]]) -> list[str]:
    problems = []
    for req_id in sent:
        if req_id not in rfqs and not any(m[35] == "AG" for m in by_id.get(req_id, [])):
            problems.append(f"{req_id}: sent, but neither an RFQ nor a QuoteRequestReject (message lost)")
    for req_id, state in rfqs.items():
        messages = by_id.get(req_id, [])
        if not any(is_final(m) for m in messages):
            problems.append(f"{req_id}: {state} at the gateway, but the requester got no final answer "
                            f"(got {[m[35] for m in messages]})")
        elif state == "Filled" and not any(tells_filled(m) for m in messages):
            problems.append(f"{req_id}: Filled at the gateway, but the requester was never told so")
    return problems


def check_gateway(session: Session) -> tuple[dict[str, str], list[str]]:
    rows = session.execute(select(RfqRow.client_req_id, RfqRow.state, RfqRow.filled_quantity)
                           .where(RfqRow.requester_session == "REQ1")).all()
    rfqs = {req_id: state for req_id, state, _ in rows}
    problems = [f"{req_id}: still {state}" for req_id, state in rfqs.items() if state not in TERMINAL_STATES]
    problems += [f"ledger: {problem}" for problem in audit_ledger(session)]
    return rfqs, problems


def check_settlement(session: Session) -> tuple[int, int, list[str]]:
    """Every broker RFQ the gateway acknowledged has exactly its venue quantity settled, once."""
    problems = []
    gateway_fills = dict(session.execute(select(RfqRow.id, func.sum(FillRow.last_quantity))
                                         .join(FillRow, FillRow.rfq_id == RfqRow.id).group_by(RfqRow.id)).all())
    fills_per_rfq = Counter(rfq_id for (rfq_id,) in session.execute(select(FillRow.rfq_id)))
    for rfq_ref, state, filled in session.execute(select(BrokerRfqRow.rfq_id, BrokerRfqRow.state,
                                                         BrokerRfqRow.filled_quantity)):
        if state in ("Reported", "AcceptedBinding", "ReadyToSettle", "WithdrawingToken"):
            problems.append(f"broker {rfq_ref}: still {state}")
        if state != "Filled":
            continue
        gateway_id = int(rfq_ref.removeprefix("rfq-"))
        settled = gateway_fills.get(gateway_id)
        if settled is None or Decimal(settled) != filled:
            problems.append(f"broker {rfq_ref}: venue filled {filled}, gateway settled {settled}")
        if fills_per_rfq[gateway_id] > 1:
            problems.append(f"broker {rfq_ref}: settled {fills_per_rfq[gateway_id]} times")
    venue_fills = session.scalar(select(func.count()).select_from(VenueFillRow)) or 0
    unsettled = sum(len(load_unsettled_fills(session, day)) for (day,) in
                    session.execute(select(VenueFillRow.trade_date).distinct()))
    return venue_fills, unsettled, problems


def check_venue(data_dir: Path, session: Session) -> list[str]:
    """Every execution the venue made reached the broker (persistent venue session)."""
    with sqlite3.connect(store_path(data_dir)) as venue:
        executed = {exec_id for (exec_id,) in venue.execute("SELECT exec_id FROM executions")}
    ours = {exec_id for (exec_id,) in session.execute(select(VenueFillRow.exec_id))}
    return [f"venue execution {exec_id} never reached the broker" for exec_id in sorted(executed - ours)]


def check_all(database_url: str, data_dir: Path, journal: Path) -> Outcome:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            rfqs, problems = check_gateway(session)
            venue_fills, unsettled, settlement_problems = check_settlement(session)
            problems += settlement_problems + check_venue(data_dir, session)
    finally:
        engine.dispose()
    sent, by_id, _ = read_journal(journal)
    problems += check_requester(rfqs, sent, by_id)
    return Outcome(rfqs, problems, venue_fills, unsettled)
