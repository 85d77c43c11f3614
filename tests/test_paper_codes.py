"""Issue 17: paper codes (纸质健康码). A person or a bound family member asks in chat and gets a
printable A6 PDF; rendered to PNG (pdftoppm), its QR decodes and verifies with the published
keys (the independent verifier of test_signed_codes), and the page says what it should. A colour
change makes it scan as outdated online and the push says to print a new one."""
from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import time

import pytest
import zxingcpp
from PIL import Image

from tests.support.chat import CLEAN, REGISTRATION, YELLOW, Chat, id_card
from tests.test_signed_codes import independent_verify

GRANDMA = id_card("11010519490101002")

pytestmark = pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils (pdftoppm) not installed; .ci/run installs it")


def _link(reply: str, svc) -> str:
    found = re.search(re.escape(svc.settings.public_base_url) + r"(/paper/\S+\.pdf)", reply)
    assert found, reply
    return found.group(1)


def test_a_family_member_prints_a_paper_code_that_verifies_offline(make_app, tmp_path):
    from workers import notices, runtime

    app, svc = make_app()
    runtime.use(svc)
    owner = Chat(app, user="o-printer")
    owner.run(*REGISTRATION, *CLEAN, "1")
    owner.run("3", "1", "4", "王奶奶", GRANDMA, "1")
    owner.run("3", "3", *CLEAN, "1")                         # grandma: green
    menu = owner.say("菜单")
    assert "8 打印纸质健康码" in menu
    reply = owner.run("8", "2")                              # for grandma
    assert "纸质健康码（绿码）已生成" in reply and "有效至" in reply
    web = app.test_client()
    r = web.get(_link(reply, svc))
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(r.data)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(pdf), str(tmp_path / "paper")], check=True)
    found = zxingcpp.read_barcodes(Image.open(tmp_path / "paper.png"))
    assert found and found[0].format == zxingcpp.BarcodeFormat.QRCode
    jwks = json.loads(web.get("/.well-known/healthcode-keys.json").data)
    verdict, claims = independent_verify(found[0].text, jwks, time.time())
    assert verdict == "valid" and claims["colour"] == "green" and claims["name"] == "王**"
    days = (claims["valid_until"] - claims["valid_from"]) / 86400
    assert days == svc.settings.paper_code_days == 7
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "浙江健康码" in text and "绿码" in text and f"王**（尾号{GRANDMA[-4:]}）" in text and "有效至" in text
    assert "打印时间" in text
    # grandma's colour changes: the paper scans as outdated online, the push says to print again
    notices.drain()
    owner.run("3", "3", *YELLOW, "1")
    from tests.support.workers import burst

    burst(svc)
    page = web.get(found[0].text[len(svc.settings.public_base_url):]).get_data(as_text=True)
    assert 'data-verdict="outdated"' in page
    # a negative test turns her green again: the family account is pushed, told to print again
    import datetime as dt

    from sqlalchemy import select

    from bot.domain.codes import reevaluate
    from bot.domain.models import Notice, TestResult
    from bot.domain.people import find_person
    from bot.infra.db import utcnow

    with svc.db.session() as s:
        grandma = find_person(s, svc.vault, "id_card", GRANDMA)
        s.add(TestResult(person_id=grandma.id, sampled_at=utcnow() + dt.timedelta(minutes=1), result="negative"))
        reevaluate(s, svc.policy, grandma.id, cause="lab_result", now=utcnow() + dt.timedelta(minutes=5))
    burst(svc)
    with svc.db.session() as s:
        payloads = [n.payload for n in s.scalars(select(Notice).where(Notice.kind == "code_changed"))]
    assert payloads and all(p.get("paper") for p in payloads)
    from bot.infra.texts import say

    assert "重新打印" in say("push.code_changed", **{**payloads[0], "link": "http://x"})


def test_a_paper_link_dies_with_a_link_reset(make_app):
    app, svc = make_app()
    chat = Chat(app, user="o-self")
    chat.run(*REGISTRATION, *CLEAN, "1")
    link = _link(chat.say("打印纸质码"), svc)
    web = app.test_client()
    assert web.get(link).status_code == 200
    chat.say("重置亮码链接")
    assert web.get(link).status_code == 404
    assert web.get("/paper/forged.pdf").status_code == 404
