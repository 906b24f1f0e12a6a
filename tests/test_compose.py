"""docker-compose.yml checked at the YAML level (no Docker engine runs here)."""

from __future__ import annotations

import yaml

from tests.conftest import ROOT


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_redis_service_is_durable_and_health_checked() -> None:
    compose = _compose()
    redis = compose["services"]["redis"]
    assert redis["image"].split(":")[1].startswith("7")
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    volume, _, mount = redis["volumes"][0].partition(":")
    assert mount == "/data" and volume in compose["volumes"]
    health = redis["healthcheck"]
    assert health["test"][-2:] == ["redis-cli", "ping"] and health["retries"] >= 1
