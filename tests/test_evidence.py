"""Issue 15, finding 7: appeal evidence. One image the platform would not give lost all of an
appeal's evidence; an SVG with a script, sent as an "image", was served as image/svg+xml with
no nosniff and no CSP (a reviewer opening it ran the script in the console's origin)."""
from __future__ import annotations

import json
import urllib.request

from sqlalchemy import select

from bot.domain.models import Appeal, AppealEvidence
from tests.support.images import SVG_WITH_SCRIPT, picture
from tests.support.staff import auth, sign_in, staff_token


def _upload(stub, data: bytes, content_type: str) -> str:
    req = urllib.request.Request(stub.base_url + "/_stub/media", data=json.dumps(
        {"hex": data.hex(), "content_type": content_type}).encode())
    return json.loads(urllib.request.urlopen(req).read())["media_id"]


def _image(chat, media_id: str) -> None:
    chat.sim.send(chat.sim.xml(chat.user, "image", {"PicUrl": "http://x/1.jpg", "MediaId": media_id}))


def test_each_image_on_its_own_pictures_only_and_served_inert(make_app):
    from bot.devtools.platform_stub import PlatformStub
    from tests.support.chat import REGISTRATION, YELLOW, Chat
    from tests.support.workers import burst
    from workers import runtime

    with PlatformStub() as stub:
        app, svc = make_app(WECHAT_API_BASE=stub.base_url)
        runtime.use(svc)
        chat = Chat(app, user="o-evidence")
        chat.run(*REGISTRATION, *YELLOW, "1")  # a yellow code: something to appeal
        media = [_upload(stub, picture("JPEG"), "image/jpeg"),
                 _upload(stub, SVG_WITH_SCRIPT, "image/svg+xml"),
                 "expired-media-id",                                    # the platform answers 40007
                 _upload(stub, picture("PNG", 1), "image/jpeg"),        # a PNG said to be a JPEG
                 _upload(stub, b"<html><script>alert(1)</script></html>", "image/png")]
        chat.run("4", "3", "我没有去过那个地方，行程信息有误")
        for m in media:
            _image(chat, m)
        assert "证明图片：5张" in chat.say("完成")
        chat.say("1")
        burst(svc)
        with svc.db.session() as s:
            rows = s.scalars(select(AppealEvidence).order_by(AppealEvidence.id)).all()
            number = s.scalar(select(Appeal.number))
        reviewer = staff_token(svc, "reviewer")
        web = app.test_client()
        served = [web.get(f"/api/v1/appeals/{number}/evidence/{r.id}", headers=auth(reviewer)) for r in rows]
        # the attack: the two pictures were lost with the rest, and the script came back as a document
        assert [r.mimetype for r in served if r.status_code == 200] == ["image/jpeg", "image/png"]
        assert [r.status for r in rows] == ["fetched", "failed", "failed", "fetched", "failed"]
        assert [r.content_type for r in rows if r.status == "fetched"] == ["image/jpeg", "image/png"]
        assert "40007" in rows[2].fetch_error and rows[1].data is None and rows[1].fetch_error.startswith("not_picture: not a JPEG")
        assert all(r.data is None for r in rows if r.status == "failed")

        detail = web.get(f"/api/v1/appeals/{number}", headers=auth(reviewer)).json
        assert [e["status"] for e in detail["evidence"]] == ["fetched", "failed", "failed", "fetched", "failed"]
        for e in detail["evidence"]:
            r = web.get(f"/api/v1/appeals/{number}/evidence/{e['id']}", headers=auth(reviewer))
            if e["status"] != "fetched":
                assert r.status_code == 404
                continue
            assert r.mimetype in ("image/jpeg", "image/png")
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
            assert r.headers["Content-Disposition"] == "inline"
        sign_in(web, reviewer)
        page = web.get(f"/console/appeals/{number}").get_data(as_text=True)
        assert page.count('class="evidence"') == 2 and page.count("获取失败") == 3 and "40007" in page
        assert page.count("不是可接受的图片") == 2 and "平台拒绝" in page
        served = web.get(f"/console/appeals/{number}/evidence/{rows[0].id}")
        assert served.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        svc.close()


def test_a_platform_that_does_not_answer_is_tried_again_and_the_reason_kept(make_app):
    from tests.support.chat import REGISTRATION, YELLOW, Chat
    from tests.support.workers import burst
    from workers import runtime

    app, svc = make_app(WECHAT_API_BASE="http://127.0.0.1:9", PUSH_TIMEOUT="0.5")  # nothing listens
    runtime.use(svc)
    chat = Chat(app, user="o-unreachable")
    chat.run(*REGISTRATION, *YELLOW, "1")  # a yellow code: something to appeal
    chat.run("4", "3", "我没有去过那个地方，行程信息有误")
    _image(chat, "any-media")
    chat.say("完成")
    chat.say("1")
    burst(svc)
    with svc.db.session() as s:
        e = s.scalar(select(AppealEvidence))
    assert e.status == "pending" and "unreachable" in e.fetch_error  # kept for the next attempt
    svc.close()
