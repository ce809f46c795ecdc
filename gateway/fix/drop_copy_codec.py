"""Drop copies as FIX: an ExecutionReport (35=8) like the one the party was sent, plus
CopyMsgIndicator (797=Y) and the party it was for in the Parties group (453/448/447/452).

    requester copy   448 = the requester's CompID, 447=D (proprietary), 452=3 (Client ID)
    solver copy      448 = the solver's CompID,    447=D,               452=35 (Liquidity provider)
"""
from __future__ import annotations

from datetime import datetime

import quickfix as fix

from gateway.domain import outbound as out
from gateway.fix.execution_codec import encode_requester_report
from transport.fix.writer import new_group, put

COPY_MSG_INDICATOR = 797
NO_PARTY_IDS, PARTY_ID, PARTY_ID_SOURCE, PARTY_ROLE = 453, 448, 447, 452
PARTY_ID_SOURCE_PROPRIETARY = "D"
PARTY_ROLES = {out.CopiedParty.REQUESTER: 3, out.CopiedParty.SOLVER: 35}


def encode_drop_copy(copy: out.DropCopyReport, now: datetime) -> fix.Message:
    original = out.RequesterReport(
        to=copy.to, kind=copy.kind, cl_ord_id=copy.cl_ord_id, order_id=copy.order_id, exec_id=copy.exec_id,
        symbol=copy.symbol, side=copy.side, order_quantity=copy.order_quantity, cum_quantity=copy.cum_quantity,
        average_price=copy.average_price, last_price=copy.last_price, last_quantity=copy.last_quantity,
        quote_id=copy.quote_id, text=copy.text, reject_reason=copy.reject_reason,
        orig_cl_ord_id=copy.orig_cl_ord_id, status=copy.status)
    message = encode_requester_report(original, now)
    party = new_group(NO_PARTY_IDS, PARTY_ID, [PARTY_ID, PARTY_ID_SOURCE, PARTY_ROLE])
    put(party, PARTY_ID, copy.party)
    put(party, PARTY_ID_SOURCE, PARTY_ID_SOURCE_PROPRIETARY)
    put(party, PARTY_ROLE, PARTY_ROLES[copy.party_role])
    message.addGroup(party)
    put(message, COPY_MSG_INDICATOR, "Y")
    return message
