"""Exchange holidays from the exchange_calendars library (full closes and early closes).

Read at seeding time only: at run time the rules read the market_holidays rows, so a deployment
can correct a date in SQL."""
from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from marketcal.sessions import EXCHANGE_TZ, REGULAR_CLOSE, REGULAR_OPEN, TRADING_WEEKDAYS, Holiday, HolidayKind

UNNAMED_CLOSURE = "Special closure"  # ad hoc closures (e.g. a national day of mourning) carry no name
UNNAMED_EARLY_CLOSE = "Early close"
_CALENDAR_MARGIN = timedelta(days=14)


def exchange_holidays(exchange: str, years: Iterable[int]) -> tuple[Holiday, ...]:
    """Full closes and early closes of `exchange` (an exchange_calendars code) in `years`."""
    return _exchange_holidays(exchange, tuple(sorted(set(years))))


@functools.lru_cache(maxsize=8)
def _exchange_holidays(exchange: str, years: tuple[int, ...]) -> tuple[Holiday, ...]:
    if not years:
        raise ValueError("no holiday years requested (calendar.holiday_years is empty)")
    start, end = date(years[0], 1, 1), date(years[-1], 12, 31)
    calendar = _library_calendar(exchange, start, end)
    if calendar.weekmask != "1111100":
        raise ValueError(f"{exchange} does not trade Monday to Friday; market_hours assumes it does")
    holidays = _full_closes(calendar, start, end) + _early_closes(calendar, start, end)
    return tuple(sorted((holiday for holiday in holidays if holiday.day.year in years), key=lambda h: h.day))


def _library_calendar(exchange: str, start: date, end: date) -> Any:
    # pandas and the calendar library load slowly and are only needed here, at seeding time.
    import exchange_calendars

    with warnings.catch_warnings():
        # exchange_calendars 4.13 reads Series.values, deprecated in pandas 3.1 (it still returns the
        # UTC values the library expects); tests/integration/test_reference_data.py checks the dates.
        warnings.simplefilter("ignore", DeprecationWarning)
        # The library's bounds must be sessions; a margin keeps 1 January (always closed) inside them.
        return exchange_calendars.get_calendar(
            exchange, start=(start - _CALENDAR_MARGIN).isoformat(), end=(end + _CALENDAR_MARGIN).isoformat()
        )


def _names(calendars: Iterable[Any], start: date, end: date) -> dict[date, str]:
    names: dict[date, str] = {}
    for holiday_calendar in calendars:
        if not hasattr(holiday_calendar, "holidays"):
            continue  # an ad hoc list of dates: no names
        dated_names = holiday_calendar.holidays(start=start.isoformat(), end=end.isoformat(), return_name=True)
        names.update({stamp.date(): str(name) for stamp, name in dated_names.items()})
    return names


def _full_closes(calendar: Any, start: date, end: date) -> list[Holiday]:
    names = _names([calendar.regular_holidays], start, end)
    sessions = {stamp.date() for stamp in calendar.sessions_in_range(start.isoformat(), end.isoformat())}
    closed: list[Holiday] = []
    day = start
    while day <= end:
        if day.weekday() in TRADING_WEEKDAYS and day not in sessions:
            closed.append(Holiday(day, names.get(day, UNNAMED_CLOSURE), HolidayKind.FULL))
        day += timedelta(days=1)
    return closed


def _early_closes(calendar: Any, start: date, end: date) -> list[Holiday]:
    names = _names([special for _close, special in calendar.special_closes], start, end)
    schedule = calendar.schedule.loc[start.isoformat():end.isoformat()]
    early: list[Holiday] = []
    for stamp, row in schedule.iterrows():
        day = stamp.date()
        opens_at = row["open"].tz_convert(str(EXCHANGE_TZ)).time()
        closes_at = row["close"].tz_convert(str(EXCHANGE_TZ)).time()
        if opens_at != REGULAR_OPEN:
            raise ValueError(f"{day}: the exchange opens at {opens_at}; late opens are not supported")
        if closes_at != REGULAR_CLOSE:
            early.append(Holiday(day, names.get(day, UNNAMED_EARLY_CLOSE), HolidayKind.EARLY, closes_at))
    return early
