"""Push delivery through the platform stub: each error path ends in the right state, the token
is refreshed once (never in a loop), and a worker killed mid-push neither loses nor doubles."""
from __future__ import annotations

import io
import json
import signal
import urllib.request
import zlib

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select, update

from bot.infra.db import utcnow
from bot.domain.models import ChannelIdentity, Notice
from bot.devtools.platform_stub import PlatformStub
from tests.support.chat import CLEAN, REGISTRATION, WECHAT_ENV, Chat, id_card
from tests.support.people import person_with_code
from tests.support.workers import group_alive, start_worker, stop_worker, wait_for
from workers import notices


@pytest.fixture
def stub():
    with PlatformStub() as s:
        yield s


def _control(stub, path, body=None):
    req = urllib.request.Request(stub.base_url + path, data=json.dumps(body or {}).encode(), method="POST")
    return json.loads(urllib.request.urlopen(req, timeout=5).read())


def _messages(stub, touser=None):
    q = f"?touser={touser}" if touser else ""
    return json.loads(urllib.request.urlopen(stub.base_url + "/_stub/messages" + q, timeout=5).read())


def _push_services(env, stub, **extra):
    from bot.services import Services
    from workers import runtime

    mini_program = {"WECHAT_MP_TOKEN": "mp-token", "WECHAT_MP_APPID": "wxmp00000001", "WECHAT_MP_SECRET": "mp-secret"}
    svc = Services.from_env({**env, **WECHAT_ENV, **mini_program, "WECHAT_API_BASE": stub.base_url, **extra})
    runtime.use(svc)
    return svc


@pytest.fixture
def push(env, stub):
    svc = _push_services(env, stub)
    yield svc
    svc.close()


def _notice(svc, kind="code_changed", channel="wechat", openid="o-user-1", in_window=True, **payload):
    number = id_card(f"1101011990{zlib.crc32(openid.encode()) % 10**7:07d}")
    pid = person_with_code(svc, payload.get("new", "green"), number=number, version=payload.pop("version", 1))
    with svc.db.session() as s:
        ident = s.scalar(select(ChannelIdentity).where(ChannelIdentity.external_id == openid))
        if ident is None:
            ident = ChannelIdentity(channel=channel, app_id=WECHAT_ENV["WECHAT_APPID"], external_id=openid,
                                    person_id=pid)
            s.add(ident)
            s.flush()
        body = {"person_id": pid, "old": "yellow", "new": "green", "reason": "核酸阴性", "name_masked": "张*",
                "proxy": False, **payload}
        notice = Notice(person_id=pid, identity_id=ident.id, kind=kind, payload=body)
        s.add(notice)
        s.flush()
        nid = notice.id
    if in_window:
        svc.redis.client().set(notices.WINDOW_KEY.format(channel, WECHAT_ENV["WECHAT_APPID"], openid), "1", ex=600)
    return nid


def _state(svc, nid):
    with svc.db.session() as s:
        n = s.get(Notice, nid)
        return n.status, n.via, n.reason, n.attempts


def test_green_notice_is_delivered_plainly_through_customer_service(push, stub):
    nid = _notice(push)
    assert notices.drain()["delivered"] == 1
    assert _state(push, nid)[:2] == ("delivered", "custom")
    [msg] = _messages(stub, "o-user-1")["messages"]
    assert msg["msgtype"] == "text" and msg["text"]["content"].startswith("好消息") and "/codes/" in msg["text"]["content"]
    # drained again: nothing is sent twice
    assert notices.drain() == {"delivered": 0, "undeliverable": 0, "pending": 0}
    assert len(_messages(stub)["messages"]) == 1


def test_outside_the_window_without_a_template_is_undeliverable_with_the_reason(push, stub):
    nid = _notice(push, in_window=False)
    _control(stub, "/_stub/faults", {"path": "/cgi-bin/message/custom/send", "errcode": 45015})
    notices.drain()
    status, via, reason, _ = _state(push, nid)
    assert status == "undeliverable" and "48-hour" in reason


def test_45015_moves_on_to_the_template_message(env, stub):
    svc = _push_services(env, stub, WECHAT_TEMPLATE_CODE_CHANGED="tpl-code-changed")
    try:
        nid = _notice(svc)
        _control(stub, "/_stub/faults", {"path": "/cgi-bin/message/custom/send", "errcode": 45015})
        notices.drain()
        assert _state(svc, nid)[:2] == ("delivered", "template")
        [msg] = _messages(stub)["messages"]
        assert msg["api"] == "template" and msg["template_id"] == "tpl-code-changed" and "/codes/" in msg["url"]
        # out of the window by our own record: the template straight away, no wasted call
        nid2 = _notice(svc, openid="o-user-2", in_window=False)
        notices.drain()
        assert _state(svc, nid2)[:2] == ("delivered", "template")
    finally:
        svc.close()


def test_43101_on_the_mini_program_is_undeliverable(push, stub):
    nid = _notice(push, channel="wechat_mp", openid="mp-user")
    with push.db.session() as s:
        s.execute(update(ChannelIdentity).where(ChannelIdentity.external_id == "mp-user")
                  .values(push_consents={"code_changed": "tpl-sub"}))
    _control(stub, "/_stub/faults", {"path": "/cgi-bin/message/subscribe/send", "errcode": 43101})
    _control(stub, "/_stub/faults", {"path": "/cgi-bin/message/custom/send", "errcode": 45015})
    notices.drain()
    status, _, reason, _ = _state(push, nid)
    assert status == "undeliverable" and "43101" in reason


def test_an_expired_token_is_refreshed_once(push, stub):
    nid = _notice(push)
    assert push.redis.client().keys("wechatpy:*") == []
    notices.drain()
    assert _state(push, nid)[0] == "delivered"
    calls = _messages(stub)["token_calls"]
    _control(stub, "/_stub/expire-tokens")
    nid2 = _notice(push, openid="o-user-2")
    notices.drain()
    assert _state(push, nid2)[:2] == ("delivered", "custom")
    assert _messages(stub)["token_calls"] == calls + 1


def test_a_token_refused_even_after_refresh_backs_off_instead_of_looping(push, stub):
    nid = _notice(push)
    _control(stub, "/_stub/faults", {"path": "/cgi-bin/message/custom/send", "errcode": 40001})
    notices.drain()
    status, _, reason, attempts = _state(push, nid)
    assert status == "pending" and "40001" in reason and attempts == 1
    assert _messages(stub)["token_calls"] == 2  # the first token and one refresh, not more
    with push.db.session() as s:
        assert s.get(Notice, nid).available_at > utcnow()  # backed off


def test_quota_pauses_the_batch_and_costs_no_attempt(push, stub):
    ids = [_notice(push, openid=f"o-q-{i}", version=i + 1) for i in range(3)]
    _control(stub, "/_stub/faults", {"path": "/cgi-bin/message/custom/send", "errcode": 45009, "times": 1})
    counts = notices.drain()
    assert counts["pending"] == 3
    for nid in ids:
        status, _, reason, attempts = _state(push, nid)
        assert status == "pending" and "quota" in reason and attempts == 0
    # once the back-off has passed, they all go
    with push.db.session() as s:
        s.execute(update(Notice).values(available_at=utcnow()))
    assert notices.drain()["delivered"] == 3


def test_an_unreachable_platform_is_retried_then_given_up(env, stub):
    svc = _push_services(env, stub, WECHAT_API_BASE="http://127.0.0.1:9", PUSH_TIMEOUT="0.5")
    try:
        nid = _notice(svc)
        for attempt in range(1, notices.RETRY.attempts + 1):
            with svc.db.session() as s:
                s.execute(update(Notice).values(available_at=utcnow()))
            notices.drain()
            status, _, reason, attempts = _state(svc, nid)
            assert attempts == attempt
            if attempt < notices.RETRY.attempts:
                assert status == "pending" and "unreachable" in reason
        assert status == "undeliverable" and "gave up after 8 attempts" in reason
    finally:
        svc.close()


def test_unknown_account_and_unfollowed_user(push, stub):
    nid = _notice(push)
    with push.db.session() as s:
        s.execute(update(ChannelIdentity).values(subscribed=False))
    notices.drain()
    assert _state(push, nid)[0] == "undeliverable" and "unfollowed" in _state(push, nid)[2]
    assert _messages(stub)["messages"] == []


def test_a_declaration_pushes_the_code_image(env, stub):
    from bot import create_app

    svc = _push_services(env, stub)
    try:
        chat = Chat(create_app(services=svc), user="o-declarer")
        reply = chat.run(*REGISTRATION, *CLEAN, "1")
        assert "/codes/" in reply
        assert notices.drain()["delivered"] == 1
        [msg] = _messages(stub, "o-declarer")["messages"]
        assert msg["msgtype"] == "image"
        png = urllib.request.urlopen(f"{stub.base_url}/_stub/media/{msg['image']['media_id']}", timeout=5).read()
        [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("RGB"))
        assert code.text.startswith(svc.settings.public_base_url + "/v/")
        # "2" (my code) pushes the image again
        chat.say("菜单")
        chat.say("2")
        assert notices.drain()["delivered"] == 1
    finally:
        svc.close()


@pytest.mark.slow
def test_a_worker_killed_mid_push_neither_loses_nor_doubles(env, stub, tmp_path):
    env = dict(env, **WECHAT_ENV, WECHAT_API_BASE=stub.base_url, NOTICE_LEASE="3", PUSH_TIMEOUT="5")
    svc = _push_services(env, stub)
    try:
        ids = [_notice(svc, openid=f"o-k-{i}", version=i + 1) for i in range(3)]
        # the second send hangs on the platform: the worker is killed while it waits
        _control(stub, "/_stub/faults", {"path": "/cgi-bin/message/custom/send", "touser": "o-k-1", "delay": 3,
                                         "times": 1})
        first = start_worker(env, tmp_path / "worker.log")
        try:
            assert wait_for(lambda: stub.state.in_flight == 1, 30), (tmp_path / "worker.log").read_text()[-2000:]
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            assert wait_for(lambda: not group_alive(first.pid), 10)
        finally:
            if first.poll() is None:
                first.kill()
        assert [m["touser"] for m in _messages(stub)["messages"]] == ["o-k-0"]
        assert _state(svc, ids[0])[0] == "sending"  # delivered, but the run died before writing it
        assert wait_for(lambda: stub.state.in_flight == 0, 10)
        second = start_worker(env, tmp_path / "worker.log")
        try:
            assert wait_for(lambda: all(_state(svc, nid)[0] == "delivered" for nid in ids), 60), \
                (tmp_path / "worker.log").read_text()[-3000:]
        finally:
            stop_worker(second)
        sent = sorted(m["touser"] for m in _messages(stub)["messages"])
        assert sent == ["o-k-0", "o-k-1", "o-k-2"]  # each exactly once
    finally:
        svc.close()


def test_a_limited_pass_ending_warns_the_person_and_the_family(push, stub):
    import datetime as dt

    from bot.domain.models import FamilyBinding, LimitedPass, Outbox
    from tests.support.workers import burst
    from bot.domain.notices import schedule_pass_ending

    nid = _notice(push, openid="o-pass-me", new="yellow")  # a person with a yellow code and an account
    owner = person_with_code(push, "green", number=id_card("11010119700101001"))
    with push.db.session() as s:
        me = s.get(Notice, nid).person_id
        s.execute(update(Notice).values(status="delivered"))  # (that notice is not what this test is about)
        s.add(ChannelIdentity(channel="wechat", app_id=WECHAT_ENV["WECHAT_APPID"], external_id="o-pass-family",
                              person_id=owner))
        s.add(FamilyBinding(owner_id=owner, member_id=me, relationship_kind="child", consent_at=utcnow()))
        soon = LimitedPass(person_id=me, episode="v1", hours=1, starts_at=utcnow() - dt.timedelta(minutes=50),
                           ends_at=utcnow() + dt.timedelta(minutes=10), destination="医院")
        later = LimitedPass(person_id=me, episode="v2", hours=3, starts_at=utcnow(),
                            ends_at=utcnow() + dt.timedelta(hours=3), destination="单位")
        s.add_all([soon, later])
        s.flush()
        schedule_pass_ending(s, soon)
        schedule_pass_ending(s, later)
        until = soon.ends_at.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%H:%M")
    with push.db.session() as s:
        rows = {r.payload["pass_id"]: r for r in s.scalars(select(Outbox).where(Outbox.kind == "pass.ending"))}
        # the 3-hour pass warns 15 minutes before its end, not now
        assert rows[later.id].status == "pending"
        assert abs((rows[later.id].available_at - (later.ends_at - dt.timedelta(minutes=15))).total_seconds()) < 5
    burst(push)  # the due effect writes the notices, and its commit nudges a drain
    notices.drain()
    texts = {m["touser"]: m["text"]["content"] for m in _messages(stub)["messages"]}
    assert set(texts) == {"o-pass-me", "o-pass-family"}
    assert texts["o-pass-me"].startswith(f"您的限时通行将于 {until} 结束")
    assert texts["o-pass-family"].startswith("张*（子女，尾号") and f"的限时通行将于 {until} 结束" in texts["o-pass-family"]


def _rsa_pair():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def test_alipay_pushes_are_signed_verified_and_classified(env, stub):
    app_private, app_public = _rsa_pair()
    svc = _push_services(env, stub, ALIPAY_APPID="2021000000000001", ALIPAY_APP_PRIVATE_KEY=app_private,
                         ALIPAY_PUBLIC_KEY=stub.state.alipay_public_key_pem, ALIPAY_GATEWAY=stub.base_url)
    try:
        _control(stub, "/_stub/alipay", {"app_public_key": app_public})  # the stub checks our signatures
        ok = _notice(svc, channel="alipay", openid="2088000000000001")
        image = _notice(svc, kind="code_image", channel="alipay", openid="2088000000000002")
        refused = _notice(svc, channel="alipay", openid="2088000000000003")
        _control(stub, "/_stub/faults", {"path": "alipay.open.public.message.custom.send",
                                         "touser": "2088000000000003", "code": "40004",
                                         "sub_code": "isv.user-not-follow", "sub_msg": "用户未关注"})
        notices.drain()
        assert _state(svc, ok)[:2] == ("delivered", "alipay")
        assert _state(svc, image)[:2] == ("delivered", "alipay")
        status, _, reason, _ = _state(svc, refused)
        assert status == "undeliverable" and "user-not-follow" in reason
        sent = {m["touser"]: m["alipay"] for m in _messages(stub)["messages"]}
        assert sent["2088000000000001"]["text"]["content"].startswith("好消息")
        article = sent["2088000000000002"]["articles"][0]
        assert "/codes/" in article["url"] and ".png" in article["image_url"]

        # a request the gateway cannot verify (another app key) is refused: undeliverable, said why
        _control(stub, "/_stub/alipay", {"app_public_key": _rsa_pair()[1]})
        bad = _notice(svc, channel="alipay", openid="2088000000000004")
        notices.drain()
        status, _, reason, _ = _state(svc, bad)
        assert status == "undeliverable" and "invalid-signature" in reason
    finally:
        svc.close()


def test_replies_of_unwaited_sends_do_not_pile_up(push):
    from bot.infra.redis.scripts import MAX_UNREAD

    fast = push.fast_redis
    for i in range(MAX_UNREAD * 3):
        fast.send("SET", f"pile:{i}", "x")
    held = fast._local.held
    assert len(held.unread) <= MAX_UNREAD
    fast._read_unread(held)  # every reply read: every SET was done
    assert held.unread == [] and push.redis.client().get(f"pile:{MAX_UNREAD * 3 - 1}") == b"x"


def test_a_platform_time_out_is_retried_and_delivered_once(env, stub):
    svc = _push_services(env, stub, PUSH_TIMEOUT="0.5")
    try:
        nid = _notice(svc, openid="o-slow-platform")
        _control(stub, "/_stub/faults", {"path": "/cgi-bin/message/custom/send", "touser": "o-slow-platform",
                                         "delay": 1.5, "times": 1})
        notices.drain()
        status, _, reason, attempts = _state(svc, nid)
        assert status == "pending" and "unreachable" in reason and attempts == 1
        import time as _time

        _time.sleep(1.5)  # the platform finished with the abandoned call: it did not count it
        with svc.db.session() as s:
            s.execute(update(Notice).values(available_at=utcnow()))
        notices.drain()
        assert _state(svc, nid)[0] == "delivered"
        assert [m["touser"] for m in _messages(stub)["messages"]] == ["o-slow-platform"]  # once
    finally:
        svc.close()


@pytest.mark.slow
def test_a_redis_restart_while_delivering_neither_loses_nor_doubles(env, stub, tmp_path):
    """Redis restarts in the middle of a batch: the next delivery mark finds its connection
    stale, goes out again on a fresh one, and every notice arrives exactly once (before, the
    mark failed with a broken pipe, the run died, and the lease recovery sent them again)."""
    import threading

    from bot.infra.redis.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path / "own-redis")
    server.ensure()
    svc = _push_services(env, stub, REDIS_URL=server.url, NOTICE_LEASE="2")
    try:
        ids = [_notice(svc, openid=f"o-r-{i}", version=i + 1) for i in range(6)]
        for i in range(6):  # each send takes a moment, so the restart falls in the middle
            _control(stub, "/_stub/faults", {"path": "/cgi-bin/message/custom/send", "touser": f"o-r-{i}",
                                             "delay": 0.3, "errcode": 0, "times": 1})
        svc.fast_redis.send("PING")  # the delivery marks' connection is open before the restart
        worker = threading.Thread(target=notices.drain)
        worker.start()
        assert wait_for(lambda: len(_messages(stub)["messages"]) >= 2, 20)
        server.stop()       # Redis saves and exits...
        server.ensure()     # ...and is back on the same socket at once
        worker.join(60)
        assert not worker.is_alive()
        # whatever the first run left (a lease that lapsed), later runs finish
        assert wait_for(lambda: notices.drain() is not None and all(
            _state(svc, nid)[0] == "delivered" for nid in ids), 30)
        sent = sorted(m["touser"] for m in _messages(stub)["messages"])
        assert sent == [f"o-r-{i}" for i in range(6)]  # each exactly once
    finally:
        svc.close()
        server.stop()
