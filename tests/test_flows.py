"""Chat flows 3-7 through the WeChat webhook: family proxy (limits, under-14, consent, declaring
for a member), appeals and their progress, the limited pass, the arrival report."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.infra.db import SHANGHAI, utcnow
from bot.domain.models import (Appeal, AppealEvidence, ArrivalReport, AuditLog, Code, Declaration, FamilyBinding,
                        LimitedPass, Notice)
from bot.domain.people import find_person
from tests.support.images import picture
from tests.support.chat import CLEAN, REGISTRATION, YELLOW, Chat, id_card

TODAY = utcnow().astimezone(SHANGHAI).date()
GRANDMA = id_card("11010519491231002")          # born 1949
CHILD = id_card(f"110105{TODAY.year - 6}0101123")  # six years old
TEEN = id_card(f"110105{TODAY.year - 16}0101123")  # sixteen


def registered(app, user="o-owner"):
    chat = Chat(app, user=user)
    chat.run(*REGISTRATION, *CLEAN, "1")
    return chat


def count(app, model, *where):
    with app.extensions["services"].db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_family_add_adult_with_consent_child_as_guardian_and_refusals(wechat_app):
    chat = registered(wechat_app)
    assert "1 添加家人" in chat.say("3")
    chat.say("1")
    chat.say("4")                                   # grandparent
    chat.say("李奶奶")
    consent = chat.say(GRANDMA)
    assert "征得本人同意" in consent and "李*" in consent
    assert "已添加家人：李*" in chat.say("1")
    # a child under 14: only as 子女, and no consent question
    chat.run("3", "1", "2", "王小明")               # as a parent: refused at the number
    wrong = chat.say(CHILD)
    assert "只能以“子女”关系添加" in wrong
    chat.say("返回")
    assert "这位家人是您的" in chat.say("返回")
    chat.say("1")                                   # child
    chat.say("王小明")
    assert "已添加家人：王*" in chat.say(CHILD)
    # yourself: refused
    chat.run("3", "1", "5", "张三")
    assert "不能添加本人" in chat.say(REGISTRATION[3])  # before the consent question (issue 16)
    with wechat_app.extensions["services"].db.session() as s:
        kinds = dict(s.execute(select(FamilyBinding.relationship_kind, FamilyBinding.guardian)).all())
        actions = [a for (a,) in s.execute(select(AuditLog.action).where(AuditLog.action.like("family.%")))]
    assert kinds == {"grandparent": False, "child": True}
    assert actions.count("family.added") == 2


def test_a_teenager_needs_consent_and_cancel_adds_nobody(wechat_app):
    chat = registered(wechat_app)
    chat.run("3", "1", "1", "张小红")
    assert "征得本人同意" in chat.say(TEEN)
    assert "已取消" in chat.say("2")
    assert count(wechat_app, FamilyBinding) == 0


def test_family_limits_ten_members_three_accounts(wechat_app):
    chat = registered(wechat_app)
    for i in range(10):
        chat.run("3", "1", "5", "家人" + "甲乙丙丁戊己庚辛壬癸"[i], id_card(f"1101051960{i + 1:02d}01{i:03d}"), "1")
    assert count(wechat_app, FamilyBinding) == 10
    assert "最多绑定10位家人" in chat.run("3", "1")
    # the same member bound by three other accounts: a fourth is refused
    member = id_card("11010519550505123")
    for n in range(3):
        other = Chat(wechat_app, user=f"o-other-{n}")
        other.run("1", "某人", "1", id_card(f"11010119800{n + 1}01123"), "13812345678", *CLEAN, "1")
        assert "已添加家人" in other.run("3", "1", "2", "老王", member, "1")
    fourth = Chat(wechat_app, user="o-other-4")
    fourth.run("1", "某人", "1", id_card("11010119800109123"), "13812345678", *CLEAN, "1")
    assert "已被3个账号绑定" in fourth.run("3", "1", "2", "老王", member)  # said before the consent question


def test_declare_for_a_member_then_view_and_unbind(env, make_app):
    app, svc = make_app()
    try:
        chat = registered(app)
        chat.run("3", "1", "4", "李奶奶", GRANDMA, "1")
        chat.say("3")
        question = chat.say("3")                     # declare for (the only member is chosen)
        assert "境外" in question
        done = chat.run("2", "4", "1", "2", "5")     # symptoms: yellow
        assert "李*" in done
        result = chat.say("1")
        assert "申报成功" in result and "李**的健康码为【" in result and "黄码" in result
        with svc.db.session() as s:
            grandma = find_person(s, svc.vault, "id_card", GRANDMA)
            decl = s.scalar(select(Declaration).where(Declaration.person_id == grandma.id))
            owner = find_person(s, svc.vault, "id_card", REGISTRATION[3])
            assert decl.submitted_by_id == owner.id and s.get(Code, grandma.id).colour == "yellow"
            assert s.scalar(select(func.count()).select_from(AuditLog).where(
                AuditLog.action == "family.declared", AuditLog.subject_person_id == grandma.id)) == 1
            # the code image of grandma goes to the owner's chat
            assert s.scalar(select(func.count()).select_from(Notice).where(
                Notice.kind == "code_image", Notice.person_id == grandma.id)) == 1
        view = chat.run("3", "2")
        assert f"李**（祖父母/外祖父母，尾号{GRANDMA[-4:]}）：黄码" in view and "/codes/" in view
        chat.say("3")
        chat.say("4")
        assert "已解除与李**的绑定" in chat.say("1")
        assert count(app, FamilyBinding, FamilyBinding.unbound_at.is_(None)) == 0
    finally:
        svc.close()


def test_appeal_with_images_one_open_per_person_and_progress(env, make_app):
    import json
    import urllib.request

    from bot.devtools.platform_stub import PlatformStub
    from tests.support.workers import burst

    with PlatformStub() as stub:
        app, svc = make_app(WECHAT_API_BASE=stub.base_url)
        try:
            from workers import runtime

            runtime.use(svc)
            chat = Chat(app, user="o-owner")
            chat.run(*REGISTRATION, *YELLOW, "1")  # yellow: an own green code is explained, not appealed
            media = []
            pictures = [picture("JPEG", i) for i in range(2)]
            for data in pictures:  # two pictures "sent" to the platform
                req = urllib.request.Request(stub.base_url + "/_stub/media", data=json.dumps(
                    {"hex": data.hex(), "content_type": "image/jpeg"}).encode())
                media.append(json.loads(urllib.request.urlopen(req).read())["media_id"])
            shown = chat.say("4")
            assert "张*当前为【黄码】" in shown and "申诉理由" in shown
            chat.say("3")
            assert "至少写5个字" in chat.say("不对")
            chat.say("我没有去过那个地方，行程信息有误")
            assert "需要文字" not in (r := chat.sim.send(chat.sim.xml(chat.user, "image", {
                "PicUrl": "http://x/1.jpg", "MediaId": media[0]})).texts) and "第1张" in r
            chat.sim.send(chat.sim.xml(chat.user, "image", {"PicUrl": "http://x/2.jpg", "MediaId": media[1]}))
            confirm = chat.say("完成")
            assert "证明图片：2张" in confirm
            filed = chat.say("1")
            number = filed.split("编号 ")[1].split("。")[0]
            assert number.startswith("SS" + TODAY.strftime("%Y%m%d")) and "24小时内" in filed
            # one open appeal per person
            assert number in chat.say("4") and "正在处理" in chat.say("菜单") + chat.say("4")
            progress = chat.say("5")
            assert number in progress and "待处理" in progress
            # the worker fetches the pictures from the platform and seals them
            burst(svc)
            with svc.db.session() as s:
                rows = s.scalars(select(AppealEvidence).order_by(AppealEvidence.id)).all()
                appeal = s.scalar(select(Appeal))
            assert [r.media_id for r in rows] == media and all(r.data for r in rows)
            assert svc.vault.unseal(rows[0].data, f"appeal_evidence:{appeal.id}") == pictures[0]
            assert pictures[0][:64] not in rows[0].data  # sealed at rest
        finally:
            svc.close()


def test_limited_pass_yellow_only_once_per_episode(env, make_app):
    app, svc = make_app(REGION_POLICY="guangxi-hechi")
    try:
        chat = registered(app)
        menu = chat.say("菜单")
        assert "6 黄码限时通行申请" in menu and "7 返程报备" in menu
        assert "只适用于黄码" in chat.say("6")
        chat.run("1", "2", "4", "2", "2", "3", "今天", "不清楚", "1")  # home health observation: yellow (rule HM)
        assert "1到24小时" in chat.say("6")
        assert "1到24之间" in chat.say("25")
        chat.say("3")
        assert "3 小时" in chat.say("南宁市青秀区某小区")
        created = chat.say("1")
        assert "已开通限时通行" in created
        with svc.db.session() as s:
            p = s.scalar(select(LimitedPass))
            assert p.hours == 3 and s.get(Code, p.person_id).colour == "yellow"
            from bot.domain.code_views import load_view

            assert load_view(s, p.person_id).pass_until is not None
        assert "有效至" in chat.say("6")   # running: says until when
        with svc.db.session() as s:
            s.execute(LimitedPass.__table__.update().values(ends_at=utcnow() - dt.timedelta(minutes=1)))
        assert "只能申请一次" in chat.say("6")
    finally:
        svc.close()


def test_flows_of_disabled_features_are_not_offered(wechat_app):
    chat = registered(wechat_app)
    menu = chat.say("菜单")
    assert "黄码限时通行" not in menu and "返程报备" not in menu
    assert "限时通行" not in chat.say("6")


def test_arrival_report_enters_the_community_queue(env, make_app):
    app, svc = make_app(REGION_POLICY="guangxi-hechi")
    try:
        chat = registered(app)
        chat.say("7")
        chat.say("广东省广州市天河区")
        chat.say("昨天")
        assert "不能早于离开日期" in chat.say((TODAY - dt.timedelta(days=3)).isoformat())
        chat.say("今天")
        confirm = chat.say("金城江区某街道某小区")
        assert "138****5678" in confirm
        done = chat.say("1")
        assert "报备成功" in done
        with svc.db.session() as s:
            r = s.scalar(select(ArrivalReport))
            assert r.origin_address == "广东省广州市天河区" and r.status == "pending" and r.district
            assert s.scalar(select(func.count()).select_from(AuditLog).where(
                AuditLog.action == "arrival_report.filed")) == 1
    finally:
        svc.close()
