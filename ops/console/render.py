"""Server-side rendering of the console: Jinja templates shipped in the package, one fragment per section.

A browser gets the whole page once; then the event stream sends only the sections whose HTML
changed, which the page swaps in place (static/console.js).
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from core.money import canonical_decimal_text
from ops.console.snapshot import Snapshot
from ops.reports.html import improvement_chart
from ops.reports.tables import tier_table

SECTIONS = ("sessions", "rfqs", "recent", "fills", "breaks", "quality", "solvers", "margins", "commands")


def _time(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(timezone.utc).strftime("%H:%M:%S")


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(timezone.utc).isoformat()


def _decimal(value: Decimal | None) -> str:
    return "-" if value is None else canonical_decimal_text(value)


def make_environment() -> Environment:
    environment = Environment(loader=PackageLoader("ops.console", "templates"),
                              autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    environment.filters["hms"] = _time
    environment.filters["iso"] = _iso
    environment.filters["dec"] = _decimal
    return environment


class Renderer:
    def __init__(self, environment: Environment | None = None) -> None:
        self.environment = environment or make_environment()

    def page(self, name: str, **context: object) -> str:
        return self.environment.get_template(name).render(**context)

    def fragments(self, snapshot: Snapshot, root: str = "") -> dict[str, str]:
        context = {"s": snapshot, "now": snapshot.taken_at, "root": root, **self._quality(snapshot)}
        return {section: self.environment.get_template(f"_{section}.html").render(**context)
                for section in SECTIONS}

    @staticmethod
    def _quality(snapshot: Snapshot) -> dict[str, object]:
        if snapshot.quality is None:
            return {"quality_headers": [], "quality_rows": [], "quality_chart": Markup("")}
        # Requester fills and the broker's venue fills are separate scopes, never summed (ops/reports).
        tables = [tier_table(section) for section in snapshot.quality.sections]
        headers = ["SCOPE", *(tables[0].headers if tables else [])]
        rows = [[section.scope.value, *row] for section, table in zip(snapshot.quality.sections, tables)
                for row in table.rows]
        # The chart is our own SVG built from numbers and escaped solver names (ops/reports/html.py).
        return {"quality_headers": headers, "quality_rows": rows,
                "quality_chart": Markup(improvement_chart(snapshot.quality))}  # noqa: S704
