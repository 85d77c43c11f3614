"""Issue 15, findings 2 and 3: who may act as whom.

2. A second chat account that typed someone's name and ID number was bound to that person and
   overwrote their phone, and nobody was told.
3. Adding an unregistered ID number under a false name created the person with that name; the
   real owner's own registration was then refused. A bound adult was never told.

Each attack is played through the chat first, as the attacker would."""
from __future__ import annotations

from sqlalchemy import func, select

from bot.domain.models import AuditLog, ChannelIdentity, Declaration, FamilyBinding, Notice, Person
from tests.support.chat import CLEAN, REGISTRATION, Chat, id_card, last_sms_code
from tests.support.staff import auth, staff_token

OWNER_PHONE = REGISTRATION[4]
ATTACKER_PHONE = "13900000000"
WANG = id_card("33010619850101123")  # someone nobody has registered yet


def _person(svc, number=REGISTRATION[3]) -> Person:
    from bot.domain.people import find_person

    with svc.db.session() as s:
        person = find_person(s, svc.vault, "id_card", number)
        s.expunge_all()
        return person


def _count(svc, model, *where) -> int:
    with svc.db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _notices(svc, kind: str) -> list[Notice]:
    with svc.db.session() as s:
        rows = s.scalars(select(Notice).where(Notice.kind == kind)).all()
        s.expunge_all()
        return rows


def _account(svc, user: str) -> ChannelIdentity | None:
    with svc.db.session() as s:
        row = s.scalar(select(ChannelIdentity).where(ChannelIdentity.external_id == user))
        s.expunge_all()
        return row


# -- finding 2: another account binding to a registered person -----------------------------------

def test_typing_someones_name_and_id_does_not_take_their_code_or_phone(make_app):
    app, svc = make_app()
    Chat(app, user="o-owner").run(*REGISTRATION, *CLEAN, "1")
    attacker = Chat(app, user="o-attacker")
    # the attack as it worked: name, ID, the attacker's phone, the health questions, confirm
    attacker.run(*REGISTRATION[:4], ATTACKER_PHONE, *CLEAN, "1")
    person = _person(svc)
    assert person.phone == OWNER_PHONE
    mine = _account(svc, "o-attacker")
    assert mine is None or mine.person_id is None
    assert _count(svc, Declaration) == 1
    assert "/codes/" not in attacker.say("2")  # no code to show: not bound to anyone


def test_wrong_codes_are_audited_and_lock_the_number_for_binding(make_app):
    app, svc = make_app()
    Chat(app, user="o-owner").run(*REGISTRATION, *CLEAN, "1")
    attacker = Chat(app, user="o-guesser")
    assert "验证码已发送" in attacker.run(*REGISTRATION[:4], "1")
    replies = [attacker.say(f"{n:06d}") for n in range(1, 5)]  # four wrong guesses
    assert all("验证码" in r for r in replies)
    assert "暂停绑定" in attacker.say("000005")  # the fifth: locked
    assert _count(svc, AuditLog, AuditLog.action == "account.bind_failed") == 5
    # the lock is on the number: another account, even with the right code now, is refused
    other = Chat(app, user="o-guesser-2")
    assert "暂停绑定" in other.run(*REGISTRATION[:4])
    guesser = _account(svc, "o-guesser")
    assert guesser is None or guesser.person_id is None


def test_the_owner_binds_a_new_account_with_the_code_and_the_old_one_is_told(make_app):
    app, svc = make_app()
    Chat(app, user="o-owner").run(*REGISTRATION, *CLEAN, "1")
    new = Chat(app, user="o-new-phone")
    assert "138****5678" in new.run(*REGISTRATION[:4])
    new.say("1")
    reply = new.say(last_sms_code(svc))
    assert "已绑定张*" in reply and "境外" in reply  # on to the health questions, as the owner
    done = new.run(*CLEAN, "1")
    assert "申报成功" in done and "/codes/" in done
    person = _person(svc)
    assert _account(svc, "o-new-phone").person_id == person.id and person.phone == OWNER_PHONE
    told = _notices(svc, "account_bound")
    assert [n.identity_id for n in told] == [_account(svc, "o-owner").id]
    assert _count(svc, AuditLog, AuditLog.action == "account.bound") == 1


def test_staff_confirm_an_account_with_the_request_code_and_the_document(make_app):
    app, svc = make_app()
    Chat(app, user="o-owner").run(*REGISTRATION, *CLEAN, "1")
    lost = Chat(app, user="o-lost-phone")
    lost.run(*REGISTRATION[:4])
    reply = lost.say("2")
    code = reply.split("核验码：")[1][:9]
    assert len(code) == 9 and code[4] == "-"
    web = app.test_client()
    clerk = auth(staff_token(svc, "community", ["110101"]))
    elsewhere = auth(staff_token(svc, "community", ["450100"], name="外区"))
    body = {"code": code, "id_number": REGISTRATION[3]}
    assert web.post("/api/v1/account-bindings", json=body, headers=elsewhere).status_code == 404
    wrong = dict(body, id_number=WANG)
    assert web.post("/api/v1/account-bindings", json=wrong, headers=clerk).status_code == 404
    ok = web.post("/api/v1/account-bindings", json=body, headers=clerk)
    assert ok.status_code == 200 and ok.json["bound"] is True
    assert web.post("/api/v1/account-bindings", json=body, headers=clerk).status_code == 404  # used once
    assert _account(svc, "o-lost-phone").person_id == _person(svc).id
    assert "/codes/" in lost.say("2")
    assert [n.identity_id for n in _notices(svc, "account_bound")] == [_account(svc, "o-owner").id]


# -- finding 3: family squatting, and bound adults told ---------------------------------------------

def test_a_false_family_name_does_not_keep_the_owner_out(make_app):
    app, svc = make_app()
    squatter = Chat(app, user="o-squatter")
    squatter.run(*REGISTRATION, *CLEAN, "1")
    squatter.run("3", "1", "5", "李四", WANG, "1")  # "other relative", a false name, consent asserted
    assert _person(svc, WANG).name == "李四" and not _person(svc, WANG).registered
    owner = Chat(app, user="o-wang")
    reply = owner.run("1", "王五", "1", WANG, "13712345678", *CLEAN, "1")
    assert "申报成功" in reply and "更正" in reply  # (it was: 姓名与该证件号码已登记的姓名不一致)
    person = _person(svc, WANG)
    assert person.name == "王五" and person.registered and person.phone == "13712345678"
    assert _count(svc, FamilyBinding, FamilyBinding.unbound_at.is_(None)) == 0
    dropped = _notices(svc, "family_dropped")
    assert [n.identity_id for n in dropped] == [_account(svc, "o-squatter").id]
    assert "还没有绑定家人" in squatter.run("3", "2")


def test_a_true_family_record_is_confirmed_and_the_owner_told_who_acts_for_them(make_app):
    app, svc = make_app()
    son = Chat(app, user="o-son")
    son.run(*REGISTRATION, *CLEAN, "1")
    son.run("3", "1", "2", "王五", WANG, "1")  # his parent, true name
    reply = Chat(app, user="o-wang").run("1", "王五", "1", WANG, "13712345678", *CLEAN, "1")
    assert "申报成功" in reply and "张*" in reply and "解除代办" in reply
    assert _count(svc, FamilyBinding, FamilyBinding.unbound_at.is_(None)) == 1


def test_a_bound_adult_is_told_and_revokes_with_one_reply(make_app):
    app, svc = make_app()
    wang = Chat(app, user="o-wang")
    wang.run("1", "王五", "1", WANG, "13712345678", *CLEAN, "1")
    binder = Chat(app, user="o-binder")
    binder.run(*REGISTRATION, *CLEAN, "1")
    binder.run("3", "1", "5", "王五", WANG, "1")  # consent is only the binder's word
    told = _notices(svc, "family_added_you")
    assert [n.identity_id for n in told] == [_account(svc, "o-wang").id]
    link = binder.run("3", "2")
    assert "王*" in link
    reply = wang.say("解除代办")
    assert "已解除" in reply and "张*" in reply
    assert _count(svc, FamilyBinding, FamilyBinding.unbound_at.is_(None)) == 0
    assert [n.identity_id for n in _notices(svc, "family_revoked")] == [_account(svc, "o-binder").id]
    assert "还没有绑定家人" in binder.run("3", "2")


def test_a_lost_phone_is_cut_off_from_the_new_account(make_app):
    app, svc = make_app()
    old = Chat(app, user="o-lost")
    old_link = old.run(*REGISTRATION, *CLEAN, "1").split("亮码：")[1].split()[0]
    new = Chat(app, user="o-found")
    new.run(*REGISTRATION[:4], "1")
    new.run(last_sms_code(svc), "取消")  # bound; leaves the health questions for now
    reply = new.say("解绑其他账号")
    assert "已解绑其他1个账号" in reply
    assert _account(svc, "o-lost").person_id is None and _account(svc, "o-found").person_id == _person(svc).id
    web = app.test_client()
    assert web.get(old_link[len(svc.settings.public_base_url):]).status_code == 404
    assert "/codes/" not in old.say("2")  # the lost phone's chat no longer shows the code
    assert _count(svc, AuditLog, AuditLog.action == "account.unbound_others") == 1


def test_only_staff_change_the_phone_on_file_and_the_person_is_told(make_app):
    app, svc = make_app()
    Chat(app, user="o-owner").run(*REGISTRATION, *CLEAN, "1")
    pid = _person(svc).id
    web = app.test_client()
    clerk = auth(staff_token(svc, "community", ["110101"]))
    elsewhere = auth(staff_token(svc, "community", ["450100"], name="外区"))
    assert web.put(f"/api/v1/people/{pid}/phone", json={"phone": "13700000000"}, headers=elsewhere).status_code == 403
    r = web.put(f"/api/v1/people/{pid}/phone", json={"phone": "13700000000"}, headers=clerk)
    assert r.status_code == 200 and r.json["phone_masked"] == "137****0000"
    assert _person(svc).phone == "13700000000"
    assert [n.identity_id for n in _notices(svc, "phone_changed")] == [_account(svc, "o-owner").id]
    with svc.db.session() as s:
        detail = s.scalar(select(AuditLog.detail).where(AuditLog.action == "person.phone_changed"))
    assert detail["old_masked"] == "138****5678" and "13700000000" not in str(detail)
