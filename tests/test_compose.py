"""docker-compose.yml checked at the YAML level (no Docker engine runs here)."""

from __future__ import annotations

import subprocess
import sys

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
    assert command[command.index("--appendfsync") + 1] == "always"  # acknowledged means on disk
    volume, _, mount = redis["volumes"][0].partition(":")
    assert mount == "/data" and volume in compose["volumes"]
    health = redis["healthcheck"]
    assert health["test"][-2:] == ["redis-cli", "ping"] and health["retries"] >= 1


def test_planwatch_services_use_the_redis_service_once_healthy() -> None:
    services = _compose()["services"]
    planwatch = {name: s for name, s in services.items() if name != "redis"}
    assert "worker" in planwatch and planwatch["worker"]["deploy"]["replicas"] >= 2
    assert "--no-notify" in planwatch["worker"]["command"] and planwatch["notifier"]["command"][0] == "notifier"
    assert planwatch["scheduler"]["command"] == ["scheduler"]
    for name, service in planwatch.items():
        assert service["build"] == "." and service["environment"]["PLANWATCH_REDIS_URL"].startswith("redis://redis:")
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name


def test_every_service_command_is_a_planwatch_command() -> None:
    """The image's entrypoint is `planwatch`; each service's command must be one it knows."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["planwatch"]' in dockerfile
    for name, service in _compose()["services"].items():
        if name == "redis":
            continue
        result = subprocess.run(
            [sys.executable, "-m", "services", *service["command"], "--help"], capture_output=True, text=True
        )
        assert result.returncode == 0, (name, result.stderr)


def test_api_service_is_published_and_health_checked() -> None:
    api = _compose()["services"]["api"]
    assert api["command"][0] == "api" and "0.0.0.0" in api["command"]
    port = api["command"][api["command"].index("--port") + 1]
    assert f"{port}:{port}" in api["ports"]
    assert int(api["command"][api["command"].index("--workers") + 1]) >= 1
    assert "/healthz" in " ".join(api["healthcheck"]["test"])
