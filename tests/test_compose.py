"""docker-compose.yml checked at the YAML level (no Docker engine runs here)."""

from __future__ import annotations

import json
import re
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


MONITORING = ("prometheus", "grafana")


def test_planwatch_services_use_the_redis_service_once_healthy() -> None:
    services = _compose()["services"]
    planwatch = {name: s for name, s in services.items() if name not in ("redis", *MONITORING)}
    assert "worker" in planwatch and planwatch["worker"]["deploy"]["replicas"] >= 2
    assert "--no-notify" in planwatch["worker"]["command"] and planwatch["notifier"]["command"][0] == "notifier"
    assert planwatch["scheduler"]["command"][0] == "scheduler" and "--once" not in planwatch["scheduler"]["command"]
    for name, service in planwatch.items():
        assert service["build"] == "." and service["environment"]["PLANWATCH_REDIS_URL"].startswith("redis://redis:")
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name


def _seconds(duration: str) -> float:
    """A compose duration (30s, 1m30s) in seconds."""
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts is not None and duration, duration
    return int(parts[1] or 0) * 60 + int(parts[2] or 0)


def test_a_stopped_worker_has_time_to_hand_its_plans_over_and_stop() -> None:
    """Docker kills a service `stop_grace_period` after SIGTERM (10 s unless set): the worker's
    hand-over, then its stop, must fit in it, or the hand-over ends in SIGKILL."""
    from services.worker import STOP_GRACE_S

    worker = _compose()["services"]["worker"]
    command = worker["command"]
    hand_over = float(command[command.index("--hand-over") + 1])  # said where the grace is set
    assert _seconds(worker.get("stop_grace_period", "10s")) >= hand_over + STOP_GRACE_S


def test_every_service_command_is_a_planwatch_command() -> None:
    """The image's entrypoint is `planwatch`; each service's command must be one it knows."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["planwatch"]' in dockerfile
    for name, service in _compose()["services"].items():
        if name in ("redis", *MONITORING):
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


def test_monitoring_profile_scrapes_every_process_with_rules_and_a_dashboard() -> None:
    """Prometheus and Grafana run only with `--profile monitoring`; Prometheus scrapes the API's
    /metrics and each other process on the --metrics-port its command gives; its alert rules and
    Grafana's dashboard are the files under docs/ops/, and they name metrics planwatch exposes."""
    from services.observability import metrics

    services = _compose()["services"]
    for name in MONITORING:
        assert services[name]["profiles"] == ["monitoring"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in services["prometheus"]["volumes"] if v.startswith("./")}
    config = yaml.safe_load((ROOT / "docs/ops/prometheus.yml").read_text())
    assert mounts["./docs/ops/prometheus.yml"] == "/etc/prometheus/prometheus.yml"
    assert mounts["./docs/ops/alerts.yml"] in config["rule_files"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["planwatch-api"]["static_configs"][0]["targets"] == ["api:8000"]
    for process in ("worker", "notifier", "scheduler"):
        command = services[process]["command"]
        port = int(command[command.index("--metrics-port") + 1])
        assert command[command.index("--metrics-host") + 1] == "0.0.0.0"
        job = jobs[f"planwatch-{process}"]
        scraped = job.get("dns_sd_configs", [{}])[0].get("port") or int(
            job["static_configs"][0]["targets"][0].split(":")[1]
        )
        assert scraped == port, process
    names = {m._name for m in vars(metrics).values() if hasattr(m, "_name") and hasattr(m, "_documentation")}
    rules = yaml.safe_load((ROOT / "docs/ops/alerts.yml").read_text())["groups"][0]["rules"]
    dashboard = json.loads((ROOT / "docs/ops/grafana-dashboard.json").read_text())
    exprs = [r["expr"] for r in rules] + [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {name for expr in exprs for name in re.findall(r"planwatch_[a-z_]+", expr)}
    exposed = {n for n in names} | {f"{n}_total" for n in names} | {f"{n}_bucket" for n in names}
    assert used <= exposed, used - exposed
    assert {"PlanwatchProjectionLagging", "PlanwatchDeliveriesDead", "PlanwatchRedisDown"} <= {
        r["alert"] for r in rules
    }
