"""What only staff can change about who a person is, after checking their document:

- a chat account for someone who can no longer receive a code on the phone on file: the person
  shows the request code their chat gave them, and the staff member enters it with the ID
  number. The look-up is audited like any other; outside a community officer's districts, or
  with a code that is not this person's, it answers like a miss;
- the phone on file (a chat declaration never changes it).

The person's accounts are told of either."""
from __future__ import annotations

from marshmallow import fields, validate

from bot.chat import binding
from bot.domain import people
from bot.domain.accounts import bind_account, change_phone
from bot.domain.errors import NotFound
from bot.domain.models import ID_TYPES
from bot.domain.staff import require_scope
from bot.infra.masking import mask_phone
from bot.web import db
from bot.web.api.base import ApiSchema, services, staff, staff_route


class PhoneIn(ApiSchema):
    phone = fields.String(required=True, validate=validate.Regexp(r"^1[3-9]\d{9}$"),
                          metadata={"description": "a mainland mobile number, 11 digits"})


class AccountBindingIn(ApiSchema):
    code = fields.String(required=True, validate=validate.Length(min=8, max=12),
                         metadata={"description": "the request code the person's chat showed (XXXX-XXXX)"})
    id_type = fields.String(load_default="id_card", validate=validate.OneOf(ID_TYPES))
    id_number = fields.String(required=True, validate=validate.Length(min=5, max=32),
                              metadata={"description": "from the document you checked"})


@staff_route("/account-bindings", roles=("community", "reviewer"), methods=("POST",), body=AccountBindingIn)
def confirm(data):
    """Bind the chat account behind a request code to the person whose document you checked."""
    session = db.session()
    request = binding.peek_request(services(), data["code"])
    try:
        person = people.look_up(session, services().vault, staff(), data["id_type"], data["id_number"],
                                via="account_binding")
    finally:
        session.commit()  # the audit row, found or not
    if request is None or request["person_id"] != person.id:
        raise NotFound("no binding request with this code for this person")
    bind_account(session, person, channel=request["channel"], app_id=request["app_id"], external_id=request["user"],
                 how="staff", staff=staff())
    session.commit()
    binding.drop_request(services(), data["code"])
    return {"person_id": person.id, "channel": request["channel"], "bound": True}


@staff_route("/people/<int:person_id>/phone", roles=("community", "reviewer"), methods=("PUT",), body=PhoneIn)
def phone(person_id, data):
    """Change the phone on file after checking the person's document (chat never changes it);
    their accounts are told."""
    session = db.session()
    person = people.person_by_id(session, person_id)
    require_scope(staff(), person.district)
    change_phone(session, staff(), person, data["phone"])
    session.commit()
    return {"person_id": person.id, "phone_masked": mask_phone(person.phone)}
