"""What the simulated venue raises when a caller or a configuration hands it something it cannot use.

Asserts in venue_sim state the venue's own invariants only; anything a caller, a script or a config
file can get wrong is refused with one of these, so the refusal survives `python -O` and can be caught.
"""
from __future__ import annotations


class VenueConfigError(ValueError):
    """A setting of the venue (latency, queue size, probability, retention, MQTT topics, ...) is unusable."""


class InvalidQuote(ValueError):
    """A venue quote, or a scripted requote, breaks the market's rules (on-tick, not crossed, displayed size)."""


class LimitExceeded(ValueError):
    """A bounded collection (NBBO listeners, market-data symbols) would grow past its documented limit."""


class NaiveTimestamp(ValueError):
    """A moment without a UTC offset: the venue dates trades in New York and cannot guess the zone."""
