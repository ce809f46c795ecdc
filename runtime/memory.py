"""Giving freed heap memory back to the operating system.

Why: the gateway's threads (QuickFIX's socket threads, the engine, the logon screen) allocate
from glibc's per-thread arenas, and glibc returns a free page in the middle of an arena only
when asked (`malloc_trim`). Measured on the bench: the gateway's resident set was about 16 MB
lower with a trim every 30 s than without (the same slope: that was the metrics' quote map,
ops/metrics.py). A `Periodic` calls `release_free_memory` off every hot thread (ctypes lets go
of the GIL during the call).
"""
from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)


def _load_malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


_MALLOC_TRIM = _load_malloc_trim()


def can_release_free_memory() -> bool:
    return _MALLOC_TRIM is not None


def release_free_memory() -> bool:
    """Return the free pages of every malloc arena to the system; True when some were released."""
    if _MALLOC_TRIM is None:
        return False
    return bool(_MALLOC_TRIM(0))
