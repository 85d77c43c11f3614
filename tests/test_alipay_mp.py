"""The Alipay gateway with a throwaway RSA key pair acting as Alipay (UTF-8 and GBK, signed
answers, async replies through the stub), and the mini-program push in JSON safe mode."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import urllib.parse
import urllib.request

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import func, select

from bot.domain.models import ChannelIdentity, Notice
from bot.devtools.platform_stub import PlatformStub
from tests.support.chat import CLEAN, REGISTRATION, WECHAT_ENV, Chat, last_sms_code
from workers import notices

APPID = "2021000000000001"


def _pair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, private.decode(), public.decode()


ALIPAY_KEY, ALIPAY_PRIVATE, ALIPAY_PUBLIC = _pair()   # the test plays Alipay
APP_KEY, APP_PRIVATE, APP_PUBLIC = _pair()            # our application's keys


@pytest.fixture
def stub():
    with PlatformStub(alipay_key_pem=ALIPAY_PRIVATE.encode()) as s:
        req = urllib.request.Request(s.base_url + "/_stub/alipay", data=json.dumps({"app_public_key": APP_PUBLIC}).encode())
        urllib.request.urlopen(req).read()
        yield s


@pytest.fixture
def app(env, stub):
    from bot import create_app
    from bot.services import Services
    from workers import runtime

    bare_public = "".join(ALIPAY_PUBLIC.strip().splitlines()[1:-1])  # as the Alipay console shows it
    mp = {"WECHAT_MP_TOKEN": "mp-token", "WECHAT_MP_APPID": "wxmp00000001", "WECHAT_MP_SECRET": "mp-secret",
          "WECHAT_MP_ENCODING_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}
    svc = Services.from_env({**env, **WECHAT_ENV, **mp, "ALIPAY_APPID": APPID, "ALIPAY_APP_PRIVATE_KEY": APP_PRIVATE,
                             "ALIPAY_PUBLIC_KEY": bare_public, "ALIPAY_GATEWAY": stub.base_url,
                             "WECHAT_API_BASE": stub.base_url})
    runtime.use(svc)
    yield create_app(services=svc)
    svc.close()


def gateway_body(params: dict, charset: str, key=ALIPAY_KEY, keep_sign_type=True) -> bytes:
    params = dict(params, charset=charset)
    drop = {"sign"} if keep_sign_type else {"sign", "sign_type"}
    text = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in drop)
    params["sign"] = base64.b64encode(key.sign(text.encode(charset), padding.PKCS1v15(), hashes.SHA256())).decode()
    return urllib.parse.urlencode(params, encoding=charset).encode("ascii")


def notify(user: str, inner: str, msg_id: str | None = None, msg_type="text") -> dict:
    msg_id = msg_id or secrets.token_hex(8)
    xml = (f"<XML><AppId><![CDATA[{APPID}]]></AppId><FromUserId><![CDATA[{user}]]></FromUserId>"
           f"<CreateTime>{int(time.time() * 1000)}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
           f"{inner}<MsgId>{msg_id}</MsgId></XML>")
    return {"service": "alipay.mobile.public.message.notify", "sign_type": "RSA2", "biz_content": xml}


def text_notify(user, text, msg_id=None):
    return notify(user, f"<Text><Content><![CDATA[{text}]]></Content></Text>", msg_id)


def signed_answer(resp, charset) -> tuple[str, bool]:
    """The text inside <response>, and whether its sign verifies with our public key."""
    xml = resp.data.decode(charset)
    assert xml.startswith(f'<?xml version="1.0" encoding="{charset}"?>')
    inner = re.search(r"<response>(.*)</response>", xml, re.S).group(1)
    sign = re.search(r"<sign>(.*)</sign>", xml).group(1)
    try:
        APP_KEY.public_key().verify(base64.b64decode(sign), inner.encode(charset), padding.PKCS1v15(), hashes.SHA256())
        return inner, True
    except Exception:
        return inner, False


def post(client, params, charset="UTF-8", **kw):
    return client.post("/alipay", data=gateway_body(params, charset, **kw),
                       content_type=f"application/x-www-form-urlencoded; charset={charset}")


def sent_to(stub, user):
    raw = urllib.request.urlopen(f"{stub.base_url}/_stub/messages?touser={user}").read()
    return [m for m in json.loads(raw)["messages"]]


@pytest.mark.parametrize("charset", ["UTF-8", "GBK"])
def test_verifygw_answers_our_public_key_signed(app, charset):
    client = app.test_client()
    check = {"service": "alipay.service.check", "sign_type": "RSA2",
             "biz_content": f"<XML><AppId>{APPID}</AppId><MsgType>verifygw</MsgType><EventType>verifygw</EventType></XML>"}
    inner, ok = signed_answer(post(client, check, charset), charset)
    body = "".join(APP_PUBLIC.strip().splitlines()[1:-1])
    assert ok and inner == f"<success>true</success><biz_content>{body}</biz_content>"
    # a message signed by someone else: VERIFY_FAILED, in the same signed wrapper
    other, _, _ = _pair()
    inner, ok = signed_answer(post(client, check, charset, key=other), charset)
    assert ok and inner == "<success>false</success><error_code>VERIFY_FAILED</error_code>"


def test_sdk_verify_would_refuse_a_genuine_gateway_message():
    """Why the channel verifies itself: python-alipay-sdk's verify() drops sign_type."""
    from alipay import AliPay

    sdk = AliPay(appid=APPID, app_private_key_string=APP_PRIVATE, alipay_public_key_string=ALIPAY_PUBLIC)
    params = dict(urllib.parse.parse_qsl(gateway_body(text_notify("2088", "你好"), "UTF-8").decode()))
    sign = params.pop("sign")
    assert sdk.verify(dict(params), sign) is False
    from bot.web.channels.alipay import verify

    assert verify(dict(params, sign=sign), "UTF-8", ALIPAY_PUBLIC, keep_sign_type=True)


def test_gbk_text_message_is_acked_signed_and_answered_through_the_api(app, stub):
    client = app.test_client()
    resp = post(client, text_notify("2088000000000001", "菜单", "m-1"), "GBK")
    inner, ok = signed_answer(resp, "GBK")
    assert ok and "<MsgType><![CDATA[ack]]></MsgType>" in inner and "2088000000000001" in inner
    assert f"<AppId><![CDATA[{APPID}]]></AppId>" in inner
    # a retry of the same MsgId: acked again, answered once
    post(client, text_notify("2088000000000001", "菜单", "m-1"), "GBK")
    assert notices.drain()["delivered"] == 1
    [msg] = sent_to(stub, "2088000000000001")
    assert msg["api"] == "alipay" and "请回复数字选择服务" in msg["alipay"]["text"]["content"]


def test_a_bad_signature_is_refused_with_no_effect(app):
    client = app.test_client()
    services = app.extensions["services"]
    other, _, _ = _pair()
    assert post(client, text_notify("2088000000000009", "菜单"), key=other).status_code == 403
    assert services.redis.client().keys("chat:*") == []
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Notice)) == 0


def test_open_platform_push_is_verified_without_sign_type(app):
    client = app.test_client()
    push = {"msg_method": "alipay.open.public.user.follow", "app_id": APPID, "sign_type": "RSA2",
            "biz_content": json.dumps({"user_id": "2088"}), "notify_id": "n1", "version": "1.1"}
    ok = post(client, push, keep_sign_type=False)
    assert ok.status_code == 200 and ok.data == b"success"
    assert post(client, push, keep_sign_type=True).status_code == 403  # the gateway rule does not fit it


def test_a_whole_declaration_on_alipay_is_the_same_person_as_on_wechat(app, stub):
    client = app.test_client()
    Chat(app, user="o-wechat").run(*REGISTRATION, *CLEAN, "1")
    user = "2088000000000002"
    post(client, notify(user, "<EventType><![CDATA[follow]]></EventType>", msg_type="event"))
    # the ID number is registered on WeChat: this account proves it is that person with a code
    # sent to the phone on file (issue 15, finding 2), and does not type a phone of its own
    for line in (*REGISTRATION[:4], "1"):
        assert post(client, text_notify(user, line)).status_code == 200
    services = app.extensions["services"]
    for line in (last_sms_code(services), *CLEAN, "1"):
        assert post(client, text_notify(user, line)).status_code == 200
    notices.drain()
    texts = [m["alipay"]["text"]["content"] for m in sent_to(stub, user) if m["alipay"].get("text")]
    assert "欢迎" in texts[0] and any("申报成功" in t and "绿码" in t for t in texts)
    with services.db.session() as s:
        people = set(s.scalars(select(ChannelIdentity.person_id).where(ChannelIdentity.external_id.in_(
            ("o-wechat", user)))))
    assert len(people) == 1 and None not in people  # one person, two channels
    images = [m for m in sent_to(stub, user) if m["alipay"].get("msg_type") == "image-text"]
    assert images and "/codes/" in images[0]["alipay"]["articles"][0]["url"]


# -- the mini-program ---------------------------------------------------------------------------------

def _mp_post(client, payload: dict, token="mp-token", aes="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
             appid="wxmp00000001", forge=False):
    from wechatpy.crypto import PrpCrypto, WeChatCrypto

    timestamp, nonce = str(int(time.time())), secrets.token_hex(4)
    encrypt = PrpCrypto(WeChatCrypto(token, aes, appid).key).encrypt(json.dumps(payload, ensure_ascii=False),
                                                                       appid).decode()
    sig = hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()
    plain_sig = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    if forge:
        sig = "0" * 40
    query = urllib.parse.urlencode({"signature": plain_sig, "timestamp": timestamp, "nonce": nonce,
                                    "encrypt_type": "aes", "msg_signature": sig})
    return client.post(f"/wechat/mp?{query}", data=json.dumps({"ToUserName": "gh_mp", "Encrypt": encrypt}),
                       content_type="application/json")


def test_mini_program_json_safe_mode_is_decrypted_and_answered_through_the_api(app, stub):
    client = app.test_client()
    base = {"ToUserName": "gh_mp", "FromUserName": "mp-user-1", "CreateTime": int(time.time())}
    entered = _mp_post(client, {**base, "MsgType": "event", "Event": "user_enter_tempsession", "SessionFrom": ""})
    assert entered.status_code == 200 and entered.data == b"success"
    said = _mp_post(client, {**base, "MsgType": "text", "Content": "常见问题", "MsgId": 42,
                             "CreateTime": int(time.time()) + 1})
    assert said.data == b"success"
    assert _mp_post(client, {**base, "MsgType": "text", "Content": "x", "MsgId": 43}, forge=True).status_code == 403
    assert notices.drain()["delivered"] == 2
    texts = [m["text"]["content"] for m in sent_to(stub, "mp-user-1")]
    assert "请回复数字选择服务" in texts[0] and "常见问题" in texts[1]
    # the URL check works like the official account's
    timestamp, nonce = "1", "2"
    sig = hashlib.sha1("".join(sorted(["mp-token", timestamp, nonce])).encode()).hexdigest()
    ok = client.get(f"/wechat/mp?signature={sig}&timestamp={timestamp}&nonce={nonce}&echostr=hello")
    assert ok.data == b"hello"


def test_mini_program_plain_xml_too(app, stub):
    client = app.test_client()
    timestamp, nonce = str(int(time.time())), "n"
    sig = hashlib.sha1("".join(sorted(["mp-token", timestamp, nonce])).encode()).hexdigest()
    xml = ("<xml><ToUserName><![CDATA[gh_mp]]></ToUserName><FromUserName><![CDATA[mp-user-2]]></FromUserName>"
           f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[菜单]]></Content>"
           "<MsgId>7</MsgId></xml>")
    r = client.post(f"/wechat/mp?signature={sig}&timestamp={timestamp}&nonce={nonce}", data=xml,
                    content_type="text/xml")
    assert r.data == b"success"
    notices.drain()
    assert "请回复数字选择服务" in sent_to(stub, "mp-user-2")[0]["text"]["content"]


def test_alipay_click_enter_and_image(app, stub):
    client = app.test_client()
    user = "2088000000000003"
    post(client, notify(user, "<EventType><![CDATA[enter]]></EventType>", msg_type="event"))
    post(client, notify(user, "<EventType><![CDATA[click]]></EventType><ActionParam><![CDATA[FAQ]]></ActionParam>",
                        msg_type="event"))
    post(client, notify(user, "<Image><MediaId><![CDATA[img-1]]></MediaId></Image>", msg_type="image"))
    notices.drain()
    texts = [m["alipay"]["text"]["content"] for m in sent_to(stub, user)]
    assert "请回复数字选择服务" in texts[0]      # entering the life account shows the menu
    assert "常见问题" in texts[1]                # the FAQ menu item
    assert "请回复问题前的序号" in texts[2] or "需要文字" in texts[2] or "文字" in texts[2]


def test_an_old_alipay_message_is_refused(app):
    """Issue 15, finding 1 for Alipay: a validly signed message is taken only while its signed
    CreateTime is fresh (a captured one, posted again later, is refused)."""
    client = app.test_client()
    assert post(client, text_notify("2088-fresh", "菜单")).status_code == 200
    old = text_notify("2088-old", "菜单")
    old["biz_content"] = re.sub(r"<CreateTime>\d+</CreateTime>", "<CreateTime>1600000000000</CreateTime>",
                                old["biz_content"])
    assert post(client, old).status_code == 403


def test_a_mini_program_account_cannot_take_over_a_registered_person(app, stub):
    """Issue 15, finding 2, as found: a mini-program account that typed someone's name and ID
    number was bound to that person (registered on the official account) and overwrote their
    phone, and nobody was told."""
    from bot.domain.models import Declaration, Person

    Chat(app, user="o-victim").run(*REGISTRATION, *CLEAN, "1")
    client = app.test_client()
    msg_id = iter(range(1000, 2000))
    for line in (*REGISTRATION[:4], "13900000000", *CLEAN, "1"):  # the attack as it worked
        payload = {"ToUserName": "gh_mp", "FromUserName": "mp-attacker", "CreateTime": int(time.time()),
                   "MsgType": "text", "Content": line, "MsgId": next(msg_id)}
        assert _mp_post(client, payload).status_code == 200
    services = app.extensions["services"]
    with services.db.session() as s:
        person = s.scalar(select(Person))
        attacker = s.scalar(select(ChannelIdentity).where(ChannelIdentity.external_id == "mp-attacker"))
        assert person.phone == REGISTRATION[4]
        assert attacker is None or attacker.person_id is None
        assert s.scalar(select(func.count()).select_from(Declaration)) == 1
