"""A requester process for the fault harness: sends Immediate RFQs at a steady pace and journals
every id it sent and every message it received, so a SIGKILL loses nothing the checks need.

Run as `python -m tests.fault.requester --port P --data-dir D --journal J --count N`. Restarted
after a kill it reads its journal, skips the ids it already sent and keeps its FIX store (sequence
numbers), so the gateway resends what it missed.
"""
from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path
from typing import TextIO

from app.processes import wait_for_stop
from transport.fix import tags as t
from transport.fix.client import FixClient, Received
from transport.fix.dictionary import DATA_DICTIONARY

LOGON_TIMEOUT_S = 120.0


class Journal:
    """Append-only JSON lines, flushed per line: the OS keeps them when the process is killed."""

    def __init__(self, path: Path) -> None:
        self.sent = set()
        if path.exists():
            for line in path.read_text().splitlines():
                record = json.loads(line) if line.strip() else {}
                if "sent" in record:
                    self.sent.add(record["sent"])
        self._lock = threading.Lock()
        self._file: TextIO = path.open("a")

    def write(self, record: dict[str, object]) -> None:
        with self._lock:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def message(self, message: Received) -> None:
        self.write({"type": message.msg_type, "fields": [list(pair) for pair in message.pairs]})


def send_rfq(client: FixClient, req_id: str, limit: str) -> None:
    client.send("R", [(t.QUOTE_REQ_ID, req_id)],
                groups=[(t.NO_RELATED_SYM, t.SYMBOL, [(t.SYMBOL, "AAPL"), (t.SIDE, "1"), (t.ORDER_QTY, 1),
                                                      (t.PRICE, limit), (5001, "2")])])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--interval-s", type=float, default=0.2)
    parser.add_argument("--limit", default="1000.00")
    arguments = parser.parse_args()
    journal = Journal(arguments.journal)
    client = FixClient("REQ1", "RFQGW", "127.0.0.1", arguments.port, arguments.data_dir, DATA_DICTIONARY,
                       credentials=("REQ1", "req1-dev-password"), on_message=journal.message)
    client.start(logon_timeout_s=LOGON_TIMEOUT_S)
    for index in range(arguments.count):
        req_id = f"h-{index}"
        if req_id in journal.sent:
            continue
        # While the gateway is away QuickFIX would store the message and deliver it by resend; waiting
        # for the logon keeps the pace honest and the journal's "sent" true.
        client.logged_on.wait(LOGON_TIMEOUT_S)
        send_rfq(client, req_id, arguments.limit)
        journal.write({"sent": req_id})
        time.sleep(arguments.interval_s)
    journal.write({"done": True})
    wait_for_stop()  # late reports (and resends after a gateway restart) still arrive
    client.stop()


if __name__ == "__main__":
    main()
