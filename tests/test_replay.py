"""Issue 15, findings 1 and 9: replayed signatures, plaintext beside an AES key, JSON parsed
before the signature. Each test performs the attack."""
from __future__ import annotations

import secrets
import time

from wechatpy.crypto import PrpCrypto, WeChatCrypto, _get_signature

from bot.devtools.devchat import _sign
from tests.support.chat import AES_KEY, APPID, CLEAN, REGISTRATION, TOKEN, Chat

MP = {"WECHAT_MP_TOKEN": "mp-token", "WECHAT_MP_APPID": "wxmp00000001", "WECHAT_MP_SECRET": "mp-secret",
      "WECHAT_MP_ENCODING_AES_KEY": AES_KEY}


def text_xml(user: str, content: str) -> bytes:
    return (f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{secrets.randbits(60)}</MsgId></xml>").encode()


def plain_post(client, body: bytes, timestamp: str | None = None, nonce: str | None = None, token=TOKEN,
               path="/wechat"):
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or str(secrets.randbelow(10**9))
    return client.post(f"{path}?signature={_sign(token, timestamp, nonce)}&timestamp={timestamp}&nonce={nonce}",
                       data=body, content_type="text/xml")


def safe_post(client, xml: bytes, token=TOKEN, appid=APPID, path="/wechat"):
    timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
    encrypt = PrpCrypto(WeChatCrypto(token, AES_KEY, appid).key).encrypt(xml.decode(), appid).decode()
    body = f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return client.post(f"{path}?signature={_sign(token, timestamp, nonce)}&timestamp={timestamp}&nonce={nonce}"
                       f"&encrypt_type=aes&msg_signature={_get_signature(token, timestamp, nonce, encrypt)}",
                       data=body.encode(), content_type="text/xml")


def registered(app, user: str) -> None:
    assert "健康码" in Chat(app, user).run(*REGISTRATION, *CLEAN, "1")


def test_a_signed_request_from_2020_is_refused(wechat_app):
    """Finding 1: timestamp 1600000000 with a valid plain signature answered a user's code link."""
    registered(wechat_app, "victim")
    r = plain_post(wechat_app.test_client(), text_xml("victim", "2"), timestamp="1600000000", nonce="42")
    assert r.status_code == 403
    assert "/codes/" not in r.get_data(as_text=True)


def test_a_fresh_request_is_answered(wechat_app):
    registered(wechat_app, "someone")
    r = plain_post(wechat_app.test_client(), text_xml("someone", "2"))
    assert r.status_code == 200 and "/codes/" in r.get_data(as_text=True)


def test_the_same_timestamp_and_nonce_with_another_body_is_refused_a_retry_is_answered(wechat_app):
    """Finding 1: the plain signature covers no body; a captured URL posted again with another
    sender or text is refused, while the platform's own retry (the same body) gets its answer."""
    registered(wechat_app, "victim")
    client = wechat_app.test_client()
    ts, nonce = str(int(time.time())), "777"
    genuine = text_xml("someone-else", "菜单")
    first = plain_post(client, genuine, ts, nonce)
    assert first.status_code == 200
    forged = plain_post(client, text_xml("victim", "2"), ts, nonce)
    assert forged.status_code == 403 and "/codes/" not in forged.get_data(as_text=True)
    retry = plain_post(client, genuine, ts, nonce)
    assert retry.status_code == 200
    assert _content(retry) == _content(first)


def _content(response) -> str:
    import xmltodict

    return xmltodict.parse(response.get_data(as_text=True))["xml"]["Content"]


def test_plaintext_is_refused_when_an_aes_key_is_set(make_app):
    """Finding 1: with an EncodingAESKey configured, plaintext posts were still taken."""
    app, _ = make_app(WECHAT_ALLOW_PLAIN="off")
    client = app.test_client()
    assert plain_post(client, text_xml("u1", "菜单")).status_code == 403
    assert safe_post(client, text_xml("u1", "菜单")).status_code == 200
    compatible, _ = make_app(WECHAT_ALLOW_PLAIN="on")
    assert plain_post(compatible.test_client(), text_xml("u1", "菜单")).status_code == 200


def test_mini_program_old_and_plain_messages_are_refused(make_app):
    app, _ = make_app(**MP, WECHAT_ALLOW_PLAIN="off")
    client = app.test_client()
    old = plain_post(client, text_xml("mp-1", "菜单"), timestamp="1600000000", token="mp-token", path="/wechat/mp")
    assert old.status_code == 403
    assert plain_post(client, text_xml("mp-1", "菜单"), token="mp-token", path="/wechat/mp").status_code == 403
    ok = safe_post(client, text_xml("mp-1", "菜单"), token="mp-token", appid="wxmp00000001", path="/wechat/mp")
    assert ok.status_code == 200 and ok.get_data() == b"success"


def test_deep_json_is_refused_before_parsing_without_a_signature(make_app):
    """Finding 9: a 5,000-deep JSON body gave an unauthenticated 500 (and a traceback) per request."""
    app, _ = make_app(**MP, WECHAT_ALLOW_PLAIN="on")
    client = app.test_client()
    deep = b"[" * 5000 + b"]" * 5000
    unsigned = client.post("/wechat/mp?signature=x&timestamp=%d&nonce=1" % int(time.time()), data=deep,
                           content_type="application/json")
    assert unsigned.status_code == 403
    signed = plain_post(client, b"{" + b'"a":[' * 5000 + b"1" + b"]" * 5000 + b"}", token="mp-token",
                        path="/wechat/mp")
    assert signed.status_code == 400
    ts, nonce = str(int(time.time())), "5"
    safe = client.post(f"/wechat/mp?signature=x&timestamp={ts}&nonce={nonce}&encrypt_type=aes&msg_signature=y",
                       data=b'{"Encrypt": ' + b"[" * 5000 + b"]" * 5000 + b"}", content_type="application/json")
    assert safe.status_code == 400
