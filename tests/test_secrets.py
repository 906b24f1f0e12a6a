"""Secrets kept secret: robot keys and access tokens never listed, sealed at rest with
PLANWATCH_SECRET_KEY; private targets are the operator's choice, never a request's."""

from __future__ import annotations

import json

import pytest
from redis.asyncio import Redis

from services.app import App
from services.notify import SubscriptionRequest, SubscriptionStore, UnsafeTarget
from services.notify.masking import mask_url, mask_urls_in
from services.settings import Settings, parse_networks
from services.store import CannotUnseal, EventStore, Keyspace, Sealer, TokenStore
from tests.conftest import LOOPBACK, api_client, planwatch

WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
DINGTALK = "https://oapi.dingtalk.com/robot/send?access_token=8f2e7c0d9b1a4e6f8c2d5a7b9e1f3c4d5e6f7a8b"
FEISHU = "https://open.feishu.cn/open-apis/bot/v2/hook/2b8c5e1f-4a7d-4c9e-8b2a-6f1d3e5c7a9b"
# the same urls on loopback (allowed in the suite; no DNS needed): a subscription stores them
ROBOTS = {
    kind: url.replace("https://", "http://").replace(host, "127.0.0.1:9")
    for kind, url, host in (
        ("wecom", WECOM, "qyapi.weixin.qq.com"),
        ("dingtalk", DINGTALK, "oapi.dingtalk.com"),
        ("feishu", FEISHU, "open.feishu.cn"),
    )
}
SECRETS = ("693a91f6-7xxx-4bc4-97a0", "8f2e7c0d9b1a4e6f8c2d5a7b9e1f3c4d", "2b8c5e1f-4a7d-4c9e-8b2a")


def test_a_masked_url_keeps_the_host_and_a_tail() -> None:
    assert mask_url(WECOM) == "https://qyapi.weixin.qq.com/…?key=…5aaa"
    assert mask_url(DINGTALK) == "https://oapi.dingtalk.com/…?access_token=…7a8b"
    assert mask_url(FEISHU) == "https://open.feishu.cn/…?hook/…7a9b"
    assert "693a91f6" not in mask_urls_in(f"POST {WECOM} failed: 500")


async def test_listings_never_show_a_robot_key_or_token(redis: Redis, keys: Keyspace, cli_env) -> None:
    admin, _ = await TokenStore(redis, keys).create("admin")
    async with api_client(redis, keys, admin) as http:
        for channel, url in ROBOTS.items():
            signed = {} if channel == "wecom" else {"secret": "SECabc123"}  # WeCom robots are not signed
            created = await http.post(
                "/v1/subscriptions", json={"name": channel, "channel": channel, "url": url, **signed}
            )
            assert created.status_code == 201, created.text
            assert not any(s in created.text for s in SECRETS)
        listed = await http.get("/v1/subscriptions")
    assert listed.status_code == 200 and len(listed.json()) == 3
    assert not any(s in listed.text for s in SECRETS) and "SECabc123" not in listed.text
    assert {s["url"] for s in listed.json()} == {
        "http://127.0.0.1:9/…?key=…5aaa",
        "http://127.0.0.1:9/…?access_token=…7a8b",
        "http://127.0.0.1:9/…?hook/…7a9b",
    }
    shown = planwatch({**cli_env, "COLUMNS": "250"}, "subscriptions")
    assert shown.returncode == 0 and not any(s in shown.stdout for s in SECRETS)


async def test_secrets_are_sealed_at_rest_with_the_key(redis: Redis, keys: Keyspace) -> None:
    dingtalk = ROBOTS["dingtalk"]
    sealed = SubscriptionStore(redis, keys, LOOPBACK, Sealer("a long random operator key"))
    await sealed.create(SubscriptionRequest(name="群", channel="dingtalk", url=dingtalk, secret="SECsealed"))
    raw = json.dumps(await redis.hgetall(keys.subscriptions))
    assert "8f2e7c0d" not in raw and "SECsealed" not in raw and "enc:v1:" in raw
    [opened] = await sealed.all()
    assert (opened.url, opened.secret) == (dingtalk, "SECsealed")  # what the notifier posts with
    assert await SubscriptionStore(redis, keys, sealer=Sealer("another key")).all() == []  # not guessed
    with pytest.raises(CannotUnseal):
        Sealer(None).unseal(json.loads(next(iter((await redis.hgetall(keys.subscriptions)).values())))["url"])
    # subscriptions stored in clear before a key was set still read
    clear = SubscriptionStore(redis, keys, LOOPBACK)
    await clear.create(SubscriptionRequest(name="旧", channel="wecom", url=ROBOTS["wecom"]))
    assert {s.name for s in await sealed.all()} == {"群", "旧"}


async def test_the_app_seals_with_the_configured_key(redis: Redis, keys: Keyspace) -> None:
    settings = Settings(key_prefix=keys.prefix, allow_private_targets=LOOPBACK, secret_key="k" * 40)
    app = App(redis, keys, settings)
    await app.alerting.subscribe(SubscriptionRequest(name="群", channel="wecom", url=ROBOTS["wecom"]))
    assert "693a91f6" not in json.dumps(await redis.hgetall(keys.subscriptions))


async def test_allow_private_is_the_operators_not_a_requests(redis: Redis, keys: Keyspace, store: EventStore) -> None:
    admin, _ = await TokenStore(redis, keys).create("admin")
    async with api_client(redis, keys, admin) as http:
        asked = await http.post(
            "/v1/subscriptions",
            json={"name": "x", "channel": "webhook", "url": "http://169.254.169.254/", "allow_private": True},
        )
        assert asked.status_code == 422 and "PLANWATCH_ALLOW_PRIVATE_TARGETS" in asked.text
        metadata = await http.post(
            "/v1/subscriptions", json={"name": "x", "channel": "webhook", "url": "http://169.254.169.254/"}
        )
        assert metadata.status_code == 422 and "link-local" in metadata.text
    assert not await redis.hlen(keys.subscriptions)
    with pytest.raises(UnsafeTarget):  # no operator allowance: loopback refused
        await SubscriptionStore(redis, keys).create(
            SubscriptionRequest(name="x", channel="webhook", url="http://127.0.0.1:9/")
        )
    await SubscriptionStore(redis, keys, LOOPBACK).create(
        SubscriptionRequest(name="x", channel="webhook", url="http://127.0.0.1:9/")
    )


def test_the_operator_names_networks_in_the_environment() -> None:
    settings = Settings.from_env({"PLANWATCH_ALLOW_PRIVATE_TARGETS": "10.20.0.0/16, 192.168.8.0/24 fd00::/8"})
    assert [str(n) for n in settings.allow_private_targets] == ["10.20.0.0/16", "192.168.8.0/24", "fd00::/8"]
    assert Settings.from_env({}).allow_private_targets == ()
    with pytest.raises(ValueError, match="PLANWATCH_ALLOW_PRIVATE_TARGETS"):
        parse_networks("10.0.0.0/8, intranet")
    assert "secret_key" not in repr(Settings(secret_key="do-not-print"))
