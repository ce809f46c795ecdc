"""MQTT plumbing shared by every publisher and subscriber (aiomqtt)."""
from __future__ import annotations

from urllib.parse import urlparse


def parse_mqtt_url(url: str) -> tuple[str, int, str | None, str | None]:
    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "tcp"):
        raise ValueError(f"MQTT_URL must look like mqtt://host:1883, got {url!r}")
    return parsed.hostname or "127.0.0.1", parsed.port or 1883, parsed.username, parsed.password
