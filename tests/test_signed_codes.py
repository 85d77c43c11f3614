"""Issue 17: the QR carries a claim signed with Ed25519 that any checkpoint verifies offline with
the published keys. The verifier here is independent of the project's own verify code: it
reads the QR from the pushed image with zxing-cpp, the keys from the JWKS document, and checks
the layout documented in bot/infra/signing.py with `cryptography` directly."""
from __future__ import annotations

import base64
import io
import json
import struct
import time
import urllib.request

import pytest
import zxingcpp
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from PIL import Image
from sqlalchemy import select

from bot.domain.models import Person
from tests.support.chat import CLEAN, REGISTRATION, Chat

HEAD = struct.Struct(">B4s16sBIIIB")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def independent_verify(text: str, jwks: dict, now: float) -> tuple[str, dict | None]:
    """What an outside checkpoint does, with nothing of ours but the documented layout."""
    token = text.rsplit("/v/", 1)[-1]
    raw = base64.b32decode(token + "=" * (-len(token) % 8))
    fmt, kid, pid, colour, version, start, until, n = HEAD.unpack_from(raw)
    body, signature = raw[:HEAD.size + n], raw[HEAD.size + n:]
    claims = {"kid": base64.urlsafe_b64encode(kid).decode().rstrip("="), "colour": ("green", "yellow", "red")[colour],
              "version": version, "valid_from": start, "valid_until": until,
              "name": body[HEAD.size:].decode("utf-8"), "public_id": base64.urlsafe_b64encode(pid).decode().rstrip("=")}
    key = next((k for k in jwks["keys"] if k["kid"] == claims["kid"]), None)
    if key is None or key["kty"] != "OKP" or key["crv"] != "Ed25519":
        return "unknown_key", claims
    try:
        Ed25519PublicKey.from_public_bytes(_unb64(key["x"])).verify(signature, body)
    except InvalidSignature:
        return "bad_signature", claims
    if now > until:
        return "expired", claims
    if now < start:
        return "not_yet_valid", claims
    return "valid", claims


def _pushed_qr_text(app, stub, svc, user="o-signed") -> str:
    from workers import notices, runtime

    runtime.use(svc)
    Chat(app, user=user).run(*REGISTRATION, *CLEAN, "1")
    notices.drain()
    sent = [m for m in json.loads(urllib.request.urlopen(f"{stub.base_url}/_stub/messages?touser={user}").read())[
        "messages"] if m.get("msgtype") == "image"]
    assert sent, "no code image was pushed"
    png = urllib.request.urlopen(f"{stub.base_url}/_stub/media/{sent[-1]['image']['media_id']}").read()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert found and found[0].format == zxingcpp.BarcodeFormat.QRCode
    return found[0].text, (int(found[0].extra["Version"]), found[0].ec_level)


@pytest.fixture
def pushed(live):
    base, app, svc, stub = live
    text, version = _pushed_qr_text(app, stub, svc)
    jwks = json.loads(app.test_client().get("/.well-known/healthcode-keys.json").data)
    return base, app, svc, text, jwks, version


def test_the_pushed_qr_verifies_offline_with_the_published_keys(pushed):
    base, app, svc, text, jwks, version = pushed
    assert text.startswith(svc.settings.public_base_url + "/v/")
    verdict, claims = independent_verify(text, jwks, time.time())
    with svc.db.session() as s:
        person = s.scalar(select(Person))
    assert verdict == "valid" and claims["public_id"] == person.public_id and claims["colour"] == "green"
    assert claims["name"] == "张*" and claims["valid_until"] - claims["valid_from"] == svc.settings.code_token_ttl
    assert version[0] <= 10 and version[1] == "M"  # the symbol stays small (version 8 at M here)
    key = jwks["keys"][0]
    assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA") and "nbf" in key


def test_one_changed_byte_is_a_bad_signature(pushed):
    _, _, _, text, jwks, _ = pushed
    token = text.rsplit("/v/", 1)[1]
    raw = bytearray(base64.b32decode(token + "=" * (-len(token) % 8)))
    raw[21] ^= 1  # the colour byte: green -> yellow
    forged = base64.b32encode(bytes(raw)).decode().rstrip("=")
    assert independent_verify(forged, jwks, time.time())[0] == "bad_signature"


def test_past_valid_until_is_expired(pushed):
    _, _, _, text, jwks, _ = pushed
    _, claims = independent_verify(text, jwks, time.time())
    assert independent_verify(text, jwks, claims["valid_until"] + 1)[0] == "expired"


def test_a_rotated_key_still_verifies_its_codes_and_an_unknown_kid_is_refused(pushed):
    base, app, svc, text, jwks, _ = pushed
    out = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert out.exit_code == 0, out.output
    after = json.loads(app.test_client().get("/.well-known/healthcode-keys.json").data)
    assert len(after["keys"]) == 2 and any("exp" in k for k in after["keys"])  # the old one, with its end
    assert independent_verify(text, after, time.time())[0] == "valid"
    stranger = {"keys": [k for k in after["keys"] if k["kid"] != independent_verify(text, after, 0)[1]["kid"]]}
    assert independent_verify(text, stranger, time.time())[0] == "unknown_key"


def test_the_verify_command_needs_neither_database_nor_redis(pushed, tmp_path):
    base, app, svc, text, jwks, _ = pushed
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(jwks))
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["verify", "--keys", str(keys), text])
    assert ok.exit_code == 0 and ok.output.startswith("valid") and '"colour": "green"' in ok.output
    # a picture of the QR too
    from bot.domain.code_views import load_view

    with svc.db.session() as s:
        view = load_view(s, s.scalar(select(Person.id)))
    picture = tmp_path / "code.png"
    picture.write_bytes(svc.code_images.png(view, time.time()))
    assert runner.invoke(args=["verify", "--keys", str(keys), str(picture)]).output.startswith("valid")
    bad = runner.invoke(args=["verify", "--keys", str(keys), text[:-3] + ("AAA" if text[-3:] != "AAA" else "BBB")])
    assert bad.exit_code == 1 and bad.output.startswith(("bad_signature", "invalid"))


def test_online_scans_say_outdated_after_the_colour_changed(pushed):
    from bot.domain.codes import reevaluate
    from bot.domain.models import Declaration
    from bot.infra.db import utcnow

    base, app, svc, text, jwks, _ = pushed
    web = app.test_client()
    path = text[len(svc.settings.public_base_url):]
    assert 'data-verdict="valid"' in web.get(path).get_data(as_text=True)
    with svc.db.session() as s:
        pid = s.scalar(select(Person.id))
        s.add(Declaration(person_id=pid, symptoms=True, declared_at=utcnow()))
        reevaluate(s, svc.policy, pid, cause="declaration")
    page = web.get(path).get_data(as_text=True)
    assert 'data-verdict="outdated"' in page and "黄码" not in page
    from tests.support.staff import auth, staff_token

    r = web.post("/api/v1/scans", json={"token": text, "venue": "超市"}, headers=auth(staff_token(svc, "scanner")))
    assert r.status_code == 200 and r.json["verdict"] == "outdated" and r.json["colour"] is None


def test_the_verify_page_works_offline(live, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, app, svc, stub = live
    text, _ = _pushed_qr_text(app, stub, svc, user="o-offline")
    browser.get(base + "/verify")
    wait = WebDriverWait(browser, 15)
    wait.until(lambda d: "核验密钥已更新" in d.find_element(By.ID, "keys-state").text)
    browser.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
    try:
        assert browser.execute_script("return fetch('/verify').then(() => 'online', () => 'offline')") == "offline"
        box = browser.find_element(By.ID, "code")
        box.send_keys(text)
        browser.find_element(By.ID, "check").click()
        wait.until(lambda d: d.find_element(By.ID, "result").get_attribute("data-verdict"))
        result = browser.find_element(By.ID, "result")
        assert result.get_attribute("data-verdict") == "valid" and result.text == "绿码"
        assert "张*" in browser.find_element(By.ID, "detail").text
        # one character changed: not valid
        box.clear()
        box.send_keys(text[:-6] + ("A" if text[-6] != "A" else "B") + text[-5:])
        browser.find_element(By.ID, "check").click()
        wait.until(lambda d: d.find_element(By.ID, "result").get_attribute("data-verdict") != "valid")
        assert browser.find_element(By.ID, "result").get_attribute("data-verdict") in ("bad_signature", "invalid")
    finally:
        browser.delete_network_conditions()


def test_private_keys_are_sealed_at_rest(services):
    from sqlalchemy import text

    from bot.domain.keys import keyring

    (kid, private), public = keyring(services.db)
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    raw = base64.urlsafe_b64encode(private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())).decode()
    with services.db.session() as s:
        stored = s.execute(text("SELECT private_key FROM signing_keys")).scalar_one()
    assert raw.rstrip("=") not in stored and kid in public
