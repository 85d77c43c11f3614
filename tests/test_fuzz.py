"""Property tests (hypothesis): parsers and validators either accept or refuse with their own
error, never crash; the webhooks never answer 500, whatever arrives; no input makes a flow hit a
bug (the apology text)."""
from __future__ import annotations

import datetime as dt
import hashlib
import string
import time
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bot.domain.idcard import IdProblem, check_id_card
from bot.chat.conversation.answers import Choice, Day, IdNumber, Invalid, Name, Number, Phone, Place, SmsCode, Text, Word
from tests.support.chat import REGISTRATION, WECHAT_ENV, Chat

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TODAY = dt.date(2026, 11, 22)

# what people type: digits (half- and full-width), Chinese, Latin, punctuation, emoji, spaces
chars = st.sampled_from(list(string.printable) + list("０１２３４５６７８９Ｘｘ　年月日号张三李·•〇一二十") +
                        ["\U0001F600", "\u200b", "\ufeff", "\x00", "\U0001F1E8", "\U0001F1F3", "\u2028"])
typed = st.one_of(st.text(chars, max_size=40), st.text(max_size=40), st.from_regex(r"\d{15,19}[xX]?", fullmatch=True))

FIELDS = [Choice(5, "measure"), Name(), IdNumber("id_card", TODAY), IdNumber("passport", TODAY),
          IdNumber("permit", TODAY), Phone(), SmsCode(), Day(TODAY, 21), Place(), Text(5, 500), Word("evidence"),
          Number(1, 24)]


@FAST
@given(text=typed)
def test_answer_fields_accept_or_refuse_with_a_reason(text):
    for field in FIELDS:
        try:
            field.deserialize(text)
        except Invalid as refused:
            assert refused.key  # a key in templates/chat/errors.txt


@FAST
@given(text=typed)
def test_id_card_check_never_crashes(text):
    try:
        card = check_id_card(text, TODAY)
    except IdProblem:
        return
    assert len(card.number) == 18 and card.birth <= TODAY


@FAST
@given(body=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                      st.builds(lambda inner: f"<xml>{inner}</xml>".encode(), st.text(max_size=80))))
def test_xml_parser_refuses_cleanly(body):
    import xml.etree.ElementTree as ET

    import defusedxml

    from bot.web.channels import parse_fields

    try:
        fields = parse_fields(body)
    except (ET.ParseError, ValueError, defusedxml.DefusedXmlException):
        return
    assert isinstance(fields, dict)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory, migrated_template, pg_schema_url, redis_url):
    """One app for the webhook properties (hypothesis runs many examples against it)."""
    import shutil
    from pathlib import Path

    from bot import create_app
    from bot.services import Services
    from tests.conftest import base_env

    var = tmp_path_factory.mktemp("fuzz")
    if pg_schema_url:
        url = pg_schema_url
    else:
        shutil.copy(Path(migrated_template.split(":///", 1)[1]), var / "fuzz.db")
        url = f"sqlite:///{var / 'fuzz.db'}"
    mp = {"WECHAT_MP_TOKEN": "mp-token", "WECHAT_MP_APPID": "wxmp00000001"}
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    svc = Services.from_env({**base_env(var, url, redis_url), **WECHAT_ENV, **mp, "ALIPAY_APPID": "2021",
                             "ALIPAY_APP_PRIVATE_KEY": pem, "ALIPAY_PUBLIC_KEY": public})
    app = create_app(services=svc)
    yield app
    svc.close()


def _signed_query(token="spamtest", **extra) -> str:
    timestamp, nonce = str(int(time.time())), "n1"
    sig = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return urllib.parse.urlencode({"signature": sig, "timestamp": timestamp, "nonce": nonce, **extra})


wechat_bodies = st.one_of(
    st.binary(max_size=400),
    st.builds(lambda t, frm, content: (
        f"<xml><ToUserName>gh</ToUserName><FromUserName>{frm}</FromUserName><CreateTime>{t}</CreateTime>"
        f"<MsgType>{content[0]}</MsgType><Content>{content[1]}</Content><Event>{content[1]}</Event></xml>").encode(),
        st.one_of(st.integers(), st.text(max_size=12)), st.text(string.ascii_letters, max_size=12),
        st.tuples(st.sampled_from(["text", "image", "event", "voice", "nope", ""]), st.text(max_size=30))))


@FAST
@given(body=wechat_bodies, aes=st.booleans())
def test_the_wechat_webhook_never_answers_500(fuzz_app, body, aes):
    extra = {"encrypt_type": "aes", "msg_signature": "x" * 40} if aes else {}
    r = fuzz_app.test_client().post(f"/wechat?{_signed_query(**extra)}", data=body, content_type="text/xml")
    assert r.status_code in (200, 400, 403, 413), (r.status_code, body)


@FAST
@given(body=st.one_of(st.binary(max_size=300), st.dictionaries(st.text(max_size=8), st.text(max_size=20)).map(
    lambda d: __import__("json").dumps(d).encode())))
def test_the_mini_program_webhook_never_answers_500(fuzz_app, body):
    r = fuzz_app.test_client().post(f"/wechat/mp?{_signed_query('mp-token')}", data=body,
                                    content_type="application/json")
    assert r.status_code in (200, 400, 403, 413)


@FAST
@given(pairs=st.dictionaries(st.sampled_from(["service", "charset", "sign", "sign_type", "biz_content", "msg_method",
                                              "x"]), st.text(max_size=40)),
       raw=st.binary(max_size=100))
def test_the_alipay_gateway_never_answers_500(fuzz_app, pairs, raw):
    body = urllib.parse.urlencode(pairs).encode() + (b"&" + raw if raw else b"")
    r = fuzz_app.test_client().post("/alipay", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code in (200, 400, 403, 413)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answers=st.lists(typed, min_size=1, max_size=6))
def test_no_input_makes_the_declaration_hit_a_bug(fuzz_app, answers):
    chat = Chat(fuzz_app, user=f"fuzz-{hashlib.sha1(repr(answers).encode()).hexdigest()[:10]}")
    chat.say("取消")
    chat.run(*REGISTRATION[:2])  # at the document question, then anything
    for text in answers:
        reply = chat.say(text)
        assert "系统出了点问题" not in reply, (answers, reply)
