"""The long-running processes' options are checked before anything starts: a number of seconds
that is not finite or out of its range, a port that is no port, an id that cannot name a Redis
client, a link that is no web address. Each is refused naming the option (exit 2, as click
does). `planwatch redis start|stop|status` speak of the server planwatch uses."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import ValidationError

from services.notify import SubscriptionRequest
from tests.conftest import one_line, planwatch

REFUSED = [
    (["worker", "--lease-ttl", "nan"], "--lease-ttl"),
    (["worker", "--lease-ttl", "1e12"], "--lease-ttl"),
    (["worker", "--lease-ttl", "-1"], "--lease-ttl"),
    (["worker", "--reclaim-idle", "-1"], "--reclaim-idle"),
    (["worker", "--hand-over", "inf"], "--hand-over"),
    (["worker", "--retry-base", "-2"], "--retry-base"),
    (["worker", "--retry-base", "5", "--retry-cap", "1"], "--retry-cap"),
    (["worker", "--metrics-port", "70000"], "--metrics-port"),
    (["worker", "--worker-id", "w 1"], "--worker-id"),
    (["worker", "--link", "notaurl"], "--link"),
    (["notifier", "--reclaim-idle", "nan"], "--reclaim-idle"),
    (["notifier", "--notifier-id", "n\n1"], "--notifier-id"),
    (["notifier", "--link", "http://"], "--link"),
    (["scheduler", "--metrics-port", "-1"], "--metrics-port"),
    (["api", "--port", "70000"], "--port"),
    (["up", "--port", "0"], "--port"),
]


def test_bad_process_options_are_refused_naming_the_option(cli_env: dict[str, str]) -> None:
    with ThreadPoolExecutor(4) as pool:  # each is a process of its own: side by side
        results = list(pool.map(lambda case: planwatch(cli_env, *case[0], timeout=60), REFUSED))
    for (args, option), result in zip(REFUSED, results, strict=True):
        said = one_line(result.stderr)
        assert result.returncode == 2, (args, result.stderr)
        assert f"Invalid value for '{option}'" in said, (args, said)
        assert "Traceback" not in result.stderr


def test_redis_commands_speak_of_the_server_planwatch_uses(cli_env: dict[str, str]) -> None:
    status = planwatch(cli_env, "redis", "status")
    assert status.returncode == 0 and "running:" in status.stdout and "PLANWATCH_REDIS_URL" in status.stdout
    away = planwatch({**cli_env, "PLANWATCH_REDIS_URL": "redis://:sekret@127.0.0.1:1/0"}, "redis", "status")
    assert away.returncode == 1 and "not answering" in away.stdout
    assert "sekret" not in away.stdout  # a password is not printed
    for command in ("start", "stop"):  # the embedded server is not the one in use: left alone
        refused = planwatch(cli_env, "redis", command)
        assert refused.returncode == 1 and "PLANWATCH_REDIS_URL is set" in refused.stderr


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"channel": "stream", "secret": "s"}, "secret"),
        ({"channel": "wecom", "url": "https://qyapi.weixin.qq.com/x", "secret": "s"}, "secret"),
        ({"channel": "webhook", "url": "https://example.org/h", "secret": "s" * 501}, "secret"),
        ({"channel": "stream", "name": "值班群" * 40}, "name"),
        ({"channel": "stream", "name": "   "}, "name"),
        ({"channel": "stream", "name": "群\u202e"}, "name"),
    ],
)
def test_a_subscription_request_is_refused_by_field(fields: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        SubscriptionRequest.model_validate({"name": "值班群", **fields})
    assert [error["loc"] for error in refused.value.errors()] == [(field,)]


def test_a_subscription_stored_before_the_checks_still_reads() -> None:
    from services.notify.subscriptions import Subscription

    stored = {"id": "s1", "created_at": "2025-07-01T00:00:00Z", "name": "群" * 200, "channel": "wecom"}
    kept = Subscription.model_validate({**stored, "url": "https://qyapi.weixin.qq.com/x", "secret": "old"})
    assert kept.secret == "old" and len(kept.name) == 200
