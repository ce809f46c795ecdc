"""One self-contained HTML page for the execution-quality report: the summary table and an inline SVG
chart of price improvement over time. No scripts, fonts or images are fetched: it opens offline.

Pixel coordinates are computed in Decimal too, so no price ever passes through a float.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from html import escape

from ops.reports.execution_quality import ExecutionQualityReport, SeriesPoint, floor_to_bucket
from ops.reports.tables import Table, footnotes, report_tables

CHART_WIDTH = 960
CHART_HEIGHT = 400
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 90, 200, 20, 50
Y_TICKS = 6
X_TICKS = 6
PIXEL = Decimal("0.1")
MIN_VALUE_RANGE = Decimal("0.001")  # the value axis of a flat series: a tenth of a cent
MAX_BUCKETS_BRIDGED = 3
DAY_TICKS_FROM = timedelta(days=2)  # longer charts are labelled with dates only
# Colour-blind-safe palette (Okabe-Ito), cycled when there are more solvers.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; margin-bottom: 4px; }
p.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: 16px 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; }
th { background: #f0f0f0; text-align: left; vertical-align: bottom; }
th, td { overflow-wrap: normal; word-break: keep-all; hyphens: none; }
td { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
h2 { font-size: 16px; margin: 20px 0 4px; }
div.scroll { overflow-x: auto; }
tr.overall td { font-weight: bold; background: #fafafa; }
p.note { font-size: 12px; color: #444; max-width: 960px; }
svg text { font-size: 11px; fill: #333; }
"""


def render_html(report: ExecutionQualityReport, generated_at: datetime) -> str:
    """The whole page as a string."""
    title = f"Execution quality {report.date_from.isoformat()} to {report.date_to.isoformat()}"
    generated = generated_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">Fills measured against the NBBO at execution. Generated {generated}. '
        f"Dates and chart times are America/New_York.</p>",
        *(_table(table) for table in report_tables(report)),
        *(f'<p class="note">{escape(note)}</p>' for note in footnotes(report)),
        "<h2>Average price improvement per share over time</h2>",
        _chart(report),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _table(table: Table) -> str:
    """Headers break only between words (an underscore or a slash becomes a break opportunity), never
    inside one: "EFFECTIVE/QUOTED" wraps as EFFECTIVE/ QUOTED, not QUOTE D. Cells never wrap."""
    head = "".join(f"<th>{_header(header)}</th>" for header in table.headers)
    body = []
    for index, row in enumerate(table.rows):
        css = ' class="overall"' if table.total_last and index == len(table.rows) - 1 else ""
        cells = "".join(f'<td class="num">{escape(cell)}</td>' if column in table.right_aligned
                        else f"<td>{escape(cell)}</td>" for column, cell in enumerate(row))
        body.append(f"<tr{css}>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(table.headers)}">none</td></tr>')
    return (f"<h2>{escape(table.title)}</h2>"
            f'<div class="scroll"><table id="{escape(table.key)}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _header(header: str) -> str:
    return escape(header).replace("_", " ").replace("/", "/<wbr>")


class _Scale:
    """Maps bucket times and improvements to pixel positions inside the plot area.

    The value axis always shows zero (the NBBO) and runs between whole multiples of a 1-2-5 step.
    """

    def __init__(self, points: Sequence[SeriesPoint]) -> None:
        self.first = min(point.bucket_start for point in points)
        self.last = max(point.bucket_start for point in points)
        self.span_s = max((self.last - self.first) // timedelta(seconds=1), 1)
        values = [point.avg_improvement_per_share for point in points] + [Decimal(0)]
        low, high = min(values), max(values)
        if low == high:
            high = low + MIN_VALUE_RANGE
        self.step = _nice_step((high - low) / (Y_TICKS - 1))
        self.low = (low / self.step).to_integral_value(rounding=ROUND_FLOOR) * self.step
        self.high = (high / self.step).to_integral_value(rounding=ROUND_CEILING) * self.step
        # Keep points off the frame: a value on the outermost tick gets one more step of room.
        if self.high == high and high > 0:
            self.high += self.step
        if self.low == low and low < 0:
            self.low -= self.step
        self.plot_width = Decimal(CHART_WIDTH - MARGIN_LEFT - MARGIN_RIGHT)
        self.plot_height = Decimal(CHART_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM)

    def x(self, at: datetime) -> Decimal:
        if self.first == self.last:  # a single bucket: in the middle rather than on the frame
            return _pixel(MARGIN_LEFT + self.plot_width / 2)
        offset_s = (at - self.first) // timedelta(seconds=1)
        return _pixel(MARGIN_LEFT + self.plot_width * offset_s / self.span_s)

    def y(self, value: Decimal) -> Decimal:
        return _pixel(MARGIN_TOP + self.plot_height * (self.high - value) / (self.high - self.low))

    def y_ticks(self) -> list[Decimal]:
        count = int((self.high - self.low) / self.step)
        return [self.low + self.step * index for index in range(count + 1)]

    def x_ticks(self, bucket: timedelta) -> list[datetime]:
        """Evenly spaced in time (not in points, which cluster in trading hours), on bucket boundaries."""
        tick_bucket = timedelta(days=1) if self.last - self.first >= DAY_TICKS_FROM else bucket
        spacing = (self.last - self.first) / (X_TICKS - 1)
        ticks = {floor_to_bucket(self.first + spacing * index, tick_bucket) for index in range(X_TICKS)}
        return sorted(tick for tick in ticks if tick >= self.first)


def _nice_step(raw: Decimal) -> Decimal:
    """The smallest 1, 2 or 5 x 10^n at least `raw`."""
    assert raw > 0, f"step must be positive, got {raw}"
    magnitude = Decimal(1).scaleb(raw.adjusted())
    return next(magnitude * factor for factor in (1, 2, 5, 10) if magnitude * factor >= raw)


def _pixel(value: Decimal) -> Decimal:
    return value.quantize(PIXEL, rounding=ROUND_HALF_EVEN)


def improvement_chart(report: ExecutionQualityReport) -> str:
    """The chart alone (inline SVG, or a sentence when there is nothing to chart): the console embeds it."""
    return _chart(report)


def _chart(report: ExecutionQualityReport) -> str:
    all_points = [point for points in report.series.values() for point in points]
    if not all_points:
        return "<p>No fills with an NBBO in this range: nothing to chart.</p>"
    scale = _Scale(all_points)
    elements = _axes(scale, report.bucket)
    for index, (solver, points) in enumerate(report.series.items()):
        elements.extend(_series(solver, points, scale, report.bucket, PALETTE[index % len(PALETTE)], index))
    legend_x, legend_y = _legend_position(len(report.series))
    elements.append(f'<line x1="{legend_x}" y1="{legend_y - 3}" x2="{legend_x + 12}" y2="{legend_y - 3}" '
                    f'stroke="#444" stroke-dasharray="3 2"/>')
    elements.append(f'<text x="{legend_x + 18}" y="{legend_y + 1}">NBBO (no improvement)</text>')
    return (f'<svg id="improvement-chart" xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" '
            f'height="{CHART_HEIGHT}" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" '
            f'aria-label="average price improvement per share over time, per solver">'
            + "".join(elements) + "</svg>")


def _axes(scale: _Scale, bucket: timedelta) -> list[str]:
    left, right = MARGIN_LEFT, CHART_WIDTH - MARGIN_RIGHT
    top, bottom = MARGIN_TOP, CHART_HEIGHT - MARGIN_BOTTOM
    parts = [f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="#fcfcfc" '
             f'stroke="#999"/>']
    for value in scale.y_ticks():
        y = scale.y(value)
        parts.append(f'<line x1="{left}" y1="{y}" x2="{right}" y2="{y}" stroke="#e4e4e4"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end">{_price_label(value)}</text>')
    zero = scale.y(Decimal(0))
    parts.append(f'<line x1="{left}" y1="{zero}" x2="{right}" y2="{zero}" stroke="#444" stroke-dasharray="6 4"/>')
    for at in scale.x_ticks(bucket):
        x = scale.x(at)
        parts.append(f'<line x1="{x}" y1="{bottom}" x2="{x}" y2="{bottom + 5}" stroke="#666"/>')
        parts.append(f'<text x="{x}" y="{bottom + 18}" text-anchor="middle">{_time_label(at, bucket)}</text>')
    parts.append(f'<text x="{(left + right) // 2}" y="{CHART_HEIGHT - 8}" text-anchor="middle">'
                 f'time (America/New_York), {_bucket_label(bucket)} buckets; lines break over gaps in trading</text>')
    parts.append(f'<text x="14" y="{(top + bottom) // 2}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {(top + bottom) // 2})">improvement per share ($)</text>')
    return parts


def _runs(points: Sequence[SeriesPoint], bucket: timedelta) -> list[list[SeriesPoint]]:
    """Consecutive points split where buckets are missing for long (nights, weekends): no line bridges them."""
    runs: list[list[SeriesPoint]] = []
    for point in points:
        if runs and point.bucket_start - runs[-1][-1].bucket_start <= bucket * MAX_BUCKETS_BRIDGED:
            runs[-1].append(point)
        else:
            runs.append([point])
    return runs


def _series(solver: str, points: Sequence[SeriesPoint], scale: _Scale, bucket: timedelta, colour: str,
            index: int) -> list[str]:
    parts = []
    for run in _runs(points, bucket):
        if len(run) > 1:
            coordinates = " ".join(f"{scale.x(point.bucket_start)},{scale.y(point.avg_improvement_per_share)}"
                                   for point in run)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{coordinates}"/>')
    for point in points:
        tooltip = (f"{solver} {point.bucket_start:%Y-%m-%d %H:%M}: {point.avg_improvement_per_share} per share "
                   f"over {point.shares} shares")
        parts.append(f'<circle cx="{scale.x(point.bucket_start)}" cy="{scale.y(point.avg_improvement_per_share)}" '
                     f'r="3" fill="{colour}"><title>{escape(tooltip)}</title></circle>')
    legend_x, legend_y = _legend_position(index)
    parts.append(f'<rect x="{legend_x}" y="{legend_y - 9}" width="12" height="12" fill="{colour}"/>')
    parts.append(f'<text x="{legend_x + 18}" y="{legend_y + 1}">{escape(solver)}</text>')
    return parts


def _legend_position(row: int) -> tuple[int, int]:
    return CHART_WIDTH - MARGIN_RIGHT + 10, MARGIN_TOP + 14 + 18 * row


def _price_label(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.0001'), rounding=ROUND_HALF_EVEN):f}"


def _time_label(at: datetime, bucket: timedelta) -> str:
    if bucket >= timedelta(days=1) or at.time() == datetime.min.time():
        return at.strftime("%Y-%m-%d")
    return at.strftime("%m-%d %H:%M")


def _bucket_label(bucket: timedelta) -> str:
    if bucket >= timedelta(days=1):
        return f"{bucket.days}-day"
    if bucket >= timedelta(hours=1):
        return f"{bucket // timedelta(hours=1)}-hour"
    return f"{bucket // timedelta(minutes=1)}-minute"
