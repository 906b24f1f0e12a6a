"""Metrics and logs: /metrics after a known workload (in-process and over `planwatch api --workers
2`), a worker's --metrics-port, and every line of a run's JSON logs parsed."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from services.api.middleware import _request_id
from services.app import App, publish_plan
from services.observability import configure_logging, plan_context, redact, request_context
from services.observability.logs import JsonFormatter, OutageFilter
from services.settings import Settings
from services.store import EventStore, Keyspace, TokenStore
from tests.conftest import ROOT, Workers, api_client, eventually, free_port, wait_until_healthy
from tests.factories import gdp_update, small_plan

PLAN = "metrics-2025"


def event(value: str = "5.5", period: str = "2025-Q2") -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "indicator.updated",
        "subject": "gdp",
        "period": period,
        "occurred_at": "2025-07-15T10:00:00+08:00",
        "value": value,
    }


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape, by name and labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(scrape: dict, name: str, **labels: str) -> float:
    return scrape.get((name, frozenset(labels.items())), 0.0)


async def scrape(http: httpx.AsyncClient) -> dict:
    answer = await http.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return samples(answer.text)


async def test_metrics_count_a_known_workload_by_entry_point_and_reason(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    await publish_plan(store, small_plan(PLAN))
    stats, _ = await TokenStore(redis, keys).create("department", "stats")
    async with api_client(redis, keys, stats) as http:
        before = await scrape(http)
        batch = [event(), event("5.6", "2025-Q3"), event("5.7", "2025-09")]
        assert (await http.post(f"/v1/plans/{PLAN}/events", json=batch)).status_code == 201
        assert (await http.post(f"/v1/plans/{PLAN}/events", json=batch)).status_code == 200  # a retry
        assert (await http.post(f"/v1/plans/{PLAN}/events", json=event("abc"))).status_code == 422
        assert (
            await http.post(f"/v1/plans/{PLAN}/events", json=event(), headers={"Authorization": "x"})
        ).status_code == 401
        unknown = {**event(), "subject": "nope"}
        assert (await http.post(f"/v1/plans/{PLAN}/events", json=unknown)).status_code == 404
        await http.get(f"/v1/plans/{PLAN}")  # a read: no intake metric moves
        after = await scrape(http)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("planwatch_events_accepted_total", entry="http", plan=PLAN) == 3
    assert delta("planwatch_events_duplicate_total", entry="http", plan=PLAN) == 3
    assert delta("planwatch_events_refused_total", entry="http", reason="invalid") == 1
    assert delta("planwatch_events_refused_total", entry="http", reason="unauthorized") == 1
    assert delta("planwatch_events_refused_total", entry="http", reason="not_found") == 1
    assert delta("planwatch_append_seconds_count") == 2  # the batch and its retry; refusals never reach the store
    assert value(after, "planwatch_redis_up") == 1


async def test_rollups_and_rebuilds_are_counted(redis: Redis, keys: Keyspace, store: EventStore) -> None:
    from prometheus_client import REGISTRY

    plan_id = f"m-{uuid.uuid4().hex[:8]}-2025"
    await publish_plan(store, small_plan(plan_id))
    await store.append([gdp_update(plan_id, "5.5", "2025-06")])
    app = App(redis, keys)
    await app.rollups.produce(plan_id, "2025-06")
    assert REGISTRY.get_sample_value("planwatch_rollups_written_total", {"plan": plan_id}) == 1
    await app.operations.rebuild(plan_id)
    for projection in ("rm", "alerts"):  # the plan, the report and the rollup's own event
        labels = {"plan": plan_id, "projection": projection}
        assert REGISTRY.get_sample_value("planwatch_rebuild_events_done", labels) == 3
        assert REGISTRY.get_sample_value("planwatch_rebuild_events_total", labels) == 3


async def test_a_request_id_is_echoed_and_made_when_missing(redis: Redis, keys: Keyspace) -> None:
    async with api_client(redis, keys) as http:
        given = await http.get("/healthz", headers={"X-Request-ID": "req-42.a"})
        made = await http.get("/healthz")
        forged = await http.get("/healthz", headers={"X-Request-ID": 'x"\n{"level": "error"}'})
        again = await http.get("/healthz")
    assert given.headers["x-request-id"] == "req-42.a"
    assert len(made.headers["x-request-id"]) == 32 and int(made.headers["x-request-id"], 16) >= 0
    assert again.headers["x-request-id"] != made.headers["x-request-id"]
    assert forged.headers["x-request-id"] != 'x"\n{"level": "error"}'  # never echoed into a log line


def test_a_forked_process_makes_request_ids_of_its_own() -> None:
    """Made ids are random bits a process and a count: a process forked from this one (as a
    server's workers may be) must not count from the same bits."""
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        os.write(write, _request_id({"headers": []}).encode())
        os._exit(0)
    os.waitpid(child, 0)
    theirs, mine = os.read(read, 64).decode(), _request_id({"headers": []})
    os.close(read), os.close(write)
    assert len(theirs) == len(mine) == 32 and theirs[:16] != mine[:16]


def test_the_api_without_its_access_log_writes_no_line_per_request_and_still_counts(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """`planwatch api --no-access-log`: no line per request (the default writes one: see
    test_tokens_plans), while what came in is still counted in /metrics."""
    port, log_path = free_port(), tmp_path / "api.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services", "api", "--port", str(port), "--no-access-log"],
        env=cli_env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, log_path)
        with httpx.Client(base_url=url, trust_env=False) as http:
            refused = http.post("/v1/plans/rongchang-2025/events", json={}, headers={"Authorization": "Bearer x"})
            assert refused.status_code == 401
            scraped = samples(http.get("/metrics").text)
        assert value(scraped, "planwatch_events_refused_total", entry="http", reason="unauthorized") == 1
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
    written = log_path.read_text()
    assert "Uvicorn running" in written or "started" in written.lower()  # the process did log
    assert "/healthz" not in written and "POST /v1/plans" not in written and "/metrics" not in written


def test_the_access_log_is_a_setting() -> None:
    assert Settings.from_env({}).access_log and Settings.from_env({"PLANWATCH_ACCESS_LOG": "ON"}).access_log
    assert not Settings.from_env({"PLANWATCH_ACCESS_LOG": "off"}).access_log
    with pytest.raises(ValueError, match="PLANWATCH_ACCESS_LOG='no': must be one of on, off"):
        Settings.from_env({"PLANWATCH_ACCESS_LOG": "no"})


def test_the_api_with_two_processes_adds_their_metrics_up(cli_env: dict[str, str], tmp_path: Path) -> None:
    """`planwatch api --workers 2`: whichever process answers /metrics, it counts every process's events."""
    port = free_port()
    publish = [sys.executable, "-m", "services", "plan", "publish", str(ROOT / "plans" / "rongchang-2025.yaml")]
    subprocess.run(publish, env=cli_env, cwd=ROOT, capture_output=True, check=True)
    token = subprocess.run(  # a department token names its plans (issue 13): published first
        [sys.executable, "-m", "services", "token", "create", "--department", "stats", "--plan", "rongchang-2025"],
        env=cli_env, cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    env = {**cli_env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
    log = (tmp_path / "api.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services", "api", "--port", str(port), "--workers", "2"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, tmp_path / "api.log")
        with httpx.Client(base_url=url, trust_env=False, headers={"Authorization": f"Bearer {token}"}) as http:
            for index in range(12):  # new connections: the kernel spreads them over both processes
                with httpx.Client(base_url=url, trust_env=False) as one:
                    answer = one.post(
                        "/v1/plans/rongchang-2025/events",
                        json=event(f"5.{index}", "2025-09"),
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    assert answer.status_code == 201, answer.text
            for _ in range(6):
                scraped = samples(http.get("/metrics").text)
                assert value(scraped, "planwatch_events_accepted_total", entry="http", plan="rongchang-2025") == 12
            pids = {p.name for p in (tmp_path / "prom").glob("counter_*.db")}
        assert len(pids) >= 1
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
    assert "Traceback" not in (tmp_path / "api.log").read_text()


async def test_a_worker_serves_lag_and_checkpoint_age_on_its_metrics_port(
    redis: Redis, store: EventStore, keys: Keyspace, workers: Workers
) -> None:
    plan_id = "lagging-2025"
    await publish_plan(store, small_plan(plan_id))
    await store.append([gdp_update(plan_id, "5.5", "2025-Q2")])
    port = free_port()
    workers.start_with("w-metrics", "--lease-ttl", "1", "--metrics-port", str(port))
    url = f"http://127.0.0.1:{port}/metrics"

    async def caught_up() -> dict | None:
        try:
            async with httpx.AsyncClient(trust_env=False) as http:
                scraped = samples((await http.get(url)).text)
        except httpx.TransportError:
            return None
        lags = [value(scraped, "planwatch_projection_lag_events", plan=plan_id, projection=p) for p in ("rm", "alerts")]
        present = all(
            (("planwatch_projection_lag_events", frozenset({"plan": plan_id, "projection": p}.items())) in scraped)
            for p in ("rm", "alerts")
        )
        return scraped if present and lags == [0, 0] else None

    scraped = await eventually(caught_up, timeout=30)
    for projection in ("rm", "alerts"):
        labels = {"plan": plan_id, "projection": projection}
        assert value(scraped, "planwatch_projection_checkpoint_age_seconds", **labels) == 0
        assert value(scraped, "planwatch_projection_dead_letters", **labels) == 0
    assert value(scraped, "planwatch_redis_up") == 1


# --- logs ------------------------------------------------------------------------------------


def test_json_lines_carry_level_process_plan_and_request_id_and_never_a_secret(capsys) -> None:
    configure_logging("api", "json")
    log = logging.getLogger("planwatch.test")
    token = "pwt_0123456789ab_S3cretS3cretS3cret"
    with request_context("req-1", "rongchang-2025"):
        log.info("accepted from %s", token, extra={"token": token, "authorization": f"Bearer {token}", "count": 3})
    with plan_context("other-2025"):
        log.warning("GET /v1/plans/x/alerts/stream?token=%s&x=1 secret=abc sign=xyz", token)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["level"] == "info" and lines[0]["process"] == "api"
    assert lines[0]["plan"] == "rongchang-2025" and lines[0]["request_id"] == "req-1" and lines[0]["count"] == 3
    assert lines[0]["message"] == "accepted from pwt_0123456789ab_***"
    assert "token" not in lines[0] and "authorization" not in lines[0]
    assert lines[1]["plan"] == "other-2025" and "request_id" not in lines[1]
    assert "S3cret" not in json.dumps(lines) and "abc" not in lines[1]["message"] and "xyz" not in lines[1]["message"]


def test_an_outage_is_one_warning_line_without_a_traceback() -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    record = logging.LogRecord("faststream", logging.ERROR, __file__, 1, "fetch failed", None, None)
    try:
        raise RedisConnectionError("Error 111 connecting to localhost:6379. Connection refused.")
    except RedisConnectionError:
        record.exc_info = sys.exc_info()
    assert OutageFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "warning" and "exception" not in line
    assert (
        line["message"] == "fetch failed: ConnectionError: Error 111 connecting to localhost:6379. Connection refused."
    )


def test_redact_keeps_the_token_id_only() -> None:
    assert redact("Authorization: Bearer pwt_0123456789ab_abc-DEF_1") == "Authorization: Bearer ***"
    assert redact("token pwt_0123456789ab_abc-DEF_1 used") == "token pwt_0123456789ab_*** used"
    # the quick pass for lines without a secret must not pass over one written in other cases
    assert redact("authorization: BEARER abc.def") == "authorization: BEARER ***"
    assert redact('"GET /v1/alerts?Access_Token=abc HTTP/1.1" 200') == '"GET /v1/alerts?Access_Token=*** HTTP/1.1" 200'
    assert redact('"POST /v1/plans/p/events HTTP/1.1" 201') == '"POST /v1/plans/p/events HTTP/1.1" 201'


async def test_every_line_of_a_worker_run_is_json(
    redis: Redis, keys: Keyspace, store: EventStore, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A worker's run, an inbox message refused (its token in the fields) included: every line of
    its log is one JSON object with level, process and message; no secret and no colour code."""
    await publish_plan(store, small_plan(PLAN))
    stats, _ = await TokenStore(redis, keys).create("department", "stats")
    pool = Workers({**cli_env, "PLANWATCH_LOG_FORMAT": "json"}, tmp_path)
    pool.start("w-json")
    try:
        await redis.xadd(keys.inbox, {"token": stats, "plan_id": PLAN, "type": "indicator.updated", "subject": "nope"})
        await eventually(lambda: redis.xlen(keys.inbox_rejects), timeout=20)
        await store.append([gdp_update(PLAN, "5.5", "2025-Q2")])
        await eventually(lambda: _logged(tmp_path, "runs the alerts"), timeout=20)
    finally:
        pool.stop_all()
    text = _logs(tmp_path)
    lines = [json.loads(line) for line in text.splitlines()]  # every line parses
    assert lines and all({"time", "level", "process", "message"} <= set(line) for line in lines)
    assert {line["process"] for line in lines} == {"worker"}
    assert any(line["level"] == "warning" and "rejected" in line["message"] for line in lines)
    assert any(line.get("plan") == PLAN for line in lines)
    secret = stats.split("_", 2)[2]  # pwt_<id>_<secret>; the secret may itself hold "_"
    assert secret not in text and "\x1b[" not in text


def _logged(directory: Path, text: str) -> bool:
    return text in _logs(directory)


def _logs(directory: Path) -> str:
    return "".join(path.read_text() for path in sorted(directory.glob("*.log")))


@pytest.fixture(autouse=True)
def _restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
