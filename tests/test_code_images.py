"""Code images, scan tokens, the code page, /v and POST /api/v1/scans.

The QR is read back with zxing-cpp, a decoder independent of the qrcode package that drew it."""
from __future__ import annotations

import datetime as dt
import io
import time

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from bot.infra.images import code_image
from bot.infra import tokens
from bot.domain.code_views import load_view
from bot.infra.db import utcnow
from bot.domain.models import Code, LimitedPass, Scan
from bot.domain.staff import create_staff
from tests.support.people import code_path, person_with_code
from tests.support.tokens import altered


def _decode(png: bytes):
    img = Image.open(io.BytesIO(png)).convert("RGB")
    found = zxingcpp.read_barcodes(img)
    assert len(found) == 1 and found[0].format == zxingcpp.BarcodeFormat.QRCode
    return img, found[0]


def _view(services, person_id):
    with services.db.session() as s:
        return load_view(s, person_id)


def _module_colour(img, barcode) -> tuple[int, int, int]:
    """The colour just inside the top-left finder pattern (always a dark module)."""
    pos = barcode.position
    x = min(pos.top_left.x, pos.bottom_left.x) + 2
    y = min(pos.top_left.y, pos.top_right.y) + 2
    return img.getpixel((x, y))


@pytest.mark.parametrize("colour", ["green", "yellow", "red"])
def test_the_qr_holds_a_signed_scan_url_in_the_codes_colour(services, colour):
    pid = person_with_code(services, colour)
    view = _view(services, pid)
    now = time.time()
    png = services.code_images.png(view, now)
    assert len(png) <= 16 * 1024
    img, barcode = _decode(png)
    base = services.settings.public_base_url + "/v/"
    assert barcode.text.startswith(base)
    from bot.domain.keys import keyring
    from bot.domain.models import Person
    from bot.infra import signing

    result = signing.verify(barcode.text[len(base):], keyring(services.db)[1], now)  # signed (issue 17)
    with services.db.session() as s:
        public_id = s.get(Person, pid).public_id
    assert (result.verdict, result.claim.public_id, result.claim.version, result.claim.colour) == (
        "valid", public_id, 1, colour)
    assert _module_colour(img, barcode) == code_image.RGB[colour]
    # every other colour in the image is white, the grey of the text, or antialiasing between
    assert img.getpixel((0, 0)) == (255, 255, 255)


def test_altered_expired_and_old_version_tokens(services):
    settings = services.settings
    pid = person_with_code(services, "green", version=4)
    now = time.time()
    token = tokens.scan_token(settings.secret_key, pid, 4, tokens.scan_period(now))
    ttl = settings.code_token_ttl
    assert tokens.read_scan_token(settings.secret_key, token, ttl, now).verdict == "valid"
    # one character changed anywhere: invalid
    for i in (0, 10, 31):
        altered = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
        assert tokens.read_scan_token(settings.secret_key, altered, ttl, now).verdict == "invalid"
    assert tokens.read_scan_token(settings.secret_key, token[:-1], ttl, now).verdict == "invalid"
    assert tokens.read_scan_token(settings.secret_key, "", ttl, now).verdict == "invalid"
    assert tokens.read_scan_token(b"another secret key of 32 bytes!!", token, ttl, now).verdict == "invalid"
    # older than the TTL (counted from the start of its minute): expired
    assert tokens.read_scan_token(settings.secret_key, token, ttl, now + ttl + 61).verdict == "expired"
    # claims to come from the future: not ours
    future = tokens.scan_token(settings.secret_key, pid, 4, tokens.scan_period(now + 3600))
    assert tokens.read_scan_token(settings.secret_key, future, ttl, now).verdict == "invalid"
    # a forged token for someone else cannot be made without the key
    from bot.domain.code_views import check_scan

    with services.db.session() as s:
        assert check_scan(s, settings, token, now)["verdict"] == "valid"
        assert check_scan(s, settings, f"{settings.public_base_url}/v/{token}", now)["colour"] == "green"
        s.execute(Code.__table__.update().where(Code.person_id == pid).values(version=5, colour="yellow"))
        stale = check_scan(s, settings, token, now)
    # the code changed since the image was made: the screenshot is expired, and shows no colour
    assert stale["verdict"] == "expired" and stale["colour"] is None and stale["masked_name"] == "张*"


def test_repeat_views_come_from_the_cache_until_the_code_or_minute_changes(services, monkeypatch):
    pid = person_with_code(services, "yellow")
    rendered = []
    real = code_image.render
    monkeypatch.setattr(code_image, "render", lambda *a, **k: rendered.append(a[0]) or real(*a, **k))
    now = time.time()
    view = _view(services, pid)
    first = services.code_images.png(view, now)
    assert services.code_images.png(view, now) == first and len(rendered) == 1
    # the next minute: a new token, a new image
    later = services.code_images.png(view, now + tokens.SCAN_PERIOD)
    assert later != first and len(rendered) == 2
    # a new code version: a new image at once
    with services.db.session() as s:
        s.execute(Code.__table__.update().where(Code.person_id == pid).values(version=2, colour="green"))
    changed = services.code_images.png(_view(services, pid), now)
    assert len(rendered) == 3
    assert _module_colour(*_decode(changed)) == code_image.RGB["green"]


def test_a_running_limited_pass_is_printed(services):
    pid = person_with_code(services, "yellow")
    plain = _view(services, pid)
    with services.db.session() as s:
        s.add(LimitedPass(person_id=pid, episode="1", hours=2, starts_at=utcnow() - dt.timedelta(minutes=5),
                          ends_at=utcnow() + dt.timedelta(hours=2), destination="医院"))
    with_pass = _view(services, pid)
    assert plain.pass_until is None and with_pass.pass_until is not None
    a, b = (Image.open(io.BytesIO(services.code_images.png(v, time.time()))) for v in (plain, with_pass))
    assert b.height > a.height  # the extra line
    _decode(services.code_images.png(with_pass, time.time()))


def test_no_cjk_font_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(code_image, "FONT_CANDIDATES", ("/nonexistent/font.ttc",))
    with pytest.raises(code_image.FontMissing, match="FONT_PATH"):
        code_image.find_font(None)


# -- the pages ----------------------------------------------------------------------------------

def test_code_page_image_and_scan_page(client, services):
    pid = person_with_code(services, "green")
    path = code_path(services, pid)
    page = client.get(path)
    assert page.status_code == 200 and b'id="code"' in page.data
    png = client.get(path + ".png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert "max-age" in png.headers["Cache-Control"]
    _, barcode = _decode(png.data)
    scan_path = barcode.text[len(services.settings.public_base_url):]
    scanned = client.get(scan_path)
    html = scanned.get_data(as_text=True)
    assert scanned.status_code == 200 and 'data-verdict="valid"' in html and "绿码" in html and "张*" in html
    assert "张三" not in html
    bad = client.get(scan_path[:-2] + ("AA" if not scan_path.endswith("AA") else "BB"))
    assert bad.status_code == 404 and 'data-verdict="invalid"' in bad.get_data(as_text=True)


def test_code_page_with_a_bad_link_or_no_code(client, services):
    assert client.get("/codes/not-a-token").status_code == 404
    assert client.get("/codes/not-a-token.png").status_code == 404
    with services.db.session() as s:
        from bot.domain.people import get_or_create_person
        from tests.support.chat import id_card

        person, _ = get_or_create_person(s, services.vault, "id_card", id_card("11010119800101123"), "李四")
        s.flush()
        pid = person.id
    path = code_path(services, pid)
    page = client.get(path)
    assert page.status_code == 200 and "还没有健康码" in page.get_data(as_text=True)
    assert client.get(path + ".png").status_code == 404


# -- POST /api/v1/scans ---------------------------------------------------------------------------

def _staff_token(services, role, **kw):
    with services.db.session() as s:
        return create_staff(s, role, f"{role} account", **kw)[1]


def test_scans_api_checks_and_records(client, services):
    pid = person_with_code(services, "red")
    now = time.time()
    token = tokens.scan_token(services.settings.secret_key, pid, 1, tokens.scan_period(now))
    url = f"{services.settings.public_base_url}/v/{token}"
    scanner = {"Authorization": f"Bearer {_staff_token(services, 'scanner')}"}
    ok = client.post("/api/v1/scans", json={"token": url, "venue": "西湖区某超市"}, headers=scanner)
    assert ok.status_code == 200
    assert ok.json["verdict"] == "valid" and ok.json["colour"] == "red" and ok.json["masked_name"] == "张*"
    bad = client.post("/api/v1/scans", json={"token": altered(token), "venue": "地铁站"}, headers=scanner)
    assert bad.status_code == 200 and bad.json["verdict"] == "invalid" and bad.json["colour"] is None
    with services.db.session() as s:
        rows = s.scalars(select(Scan).order_by(Scan.id)).all()
    assert [(r.venue, r.verdict, r.colour, r.masked_name, r.person_id) for r in rows] == [
        ("西湖区某超市", "valid", "red", "张*", pid), ("地铁站", "invalid", None, None, None)]


def test_scans_api_refuses_without_the_scanner_role_or_a_good_body(client, services):
    body = {"token": "x" * 32, "venue": "v"}
    assert client.post("/api/v1/scans", json=body).status_code == 401
    assert client.post("/api/v1/scans", json=body, headers={"Authorization": "Bearer hcs_forged"}).status_code == 401
    for role in ("admin", "reviewer", "lab"):
        r = client.post("/api/v1/scans", json=body, headers={"Authorization": f"Bearer {_staff_token(services, role)}"})
        assert r.status_code == 403, role
    community = _staff_token(services, "community", scope=["330106"])
    assert client.post("/api/v1/scans", json=body,
                       headers={"Authorization": f"Bearer {community}"}).status_code == 403
    scanner = {"Authorization": f"Bearer {_staff_token(services, 'scanner')}"}
    r = client.post("/api/v1/scans", json={"venue": ""}, headers=scanner)
    assert r.status_code == 400 and set(r.json["errors"]) == {"token", "venue"}
    r = client.post("/api/v1/scans", data="not json", headers={**scanner, "Content-Type": "application/json"})
    assert r.status_code == 400
    with services.db.session() as s:
        assert s.scalar(select(Scan.id)) is None  # nothing recorded for refused calls
