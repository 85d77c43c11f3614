"""People and who acts for or about them: chat accounts, family bindings, staff, the audit log."""
from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import (JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.infra.db import Base, Encrypted, UTCDateTime, utcnow
from bot.domain.models.columns import _now_col


def new_public_id() -> str:
    return secrets.token_urlsafe(16)  # 128 random bits, 22 characters


class Person(Base):
    """Someone with (or applying for) a health code: a registered user or a family member."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    # what links name instead of the id: random (ids can be counted), and a link carries the
    # link version, so raising it (a reset, an unbinding) revokes every link given out so far
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    link_version: Mapped[int] = mapped_column(Integer, default=1)
    id_type: Mapped[str] = mapped_column(String(16))
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)  # HMAC of id_type + normalised number
    id_number: Mapped[str] = mapped_column(Encrypted("people.id_number"))
    name: Mapped[str] = mapped_column(Encrypted("people.name"))
    phone: Mapped[str | None] = mapped_column(Encrypted("people.phone"))
    nationality: Mapped[str | None] = mapped_column(Encrypted("people.nationality", 256))  # passports: ISO alpha-3
    address: Mapped[str | None] = mapped_column(Encrypted("people.address"))
    district: Mapped[str | None] = mapped_column(String(12), index=True)  # region code, scopes community staff
    registered: Mapped[bool] = mapped_column(Boolean, default=False)  # registered themselves in chat
    created_at: Mapped[dt.datetime] = _now_col()
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    identities: Mapped[list[ChannelIdentity]] = relationship(back_populates="person")
    code: Mapped["Code | None"] = relationship(back_populates="person", uselist=False)  # noqa: F821  (.codes)


class ChannelIdentity(Base):
    """A chat user on one platform (WeChat openid, mini-program openid, Alipay user id)."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "app_id", "external_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    app_id: Mapped[str] = mapped_column(String(64), default="")
    external_id: Mapped[str] = mapped_column(String(128))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    last_inbound_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # WeChat's 48-hour window
    push_consents: Mapped[dict] = mapped_column(JSON, default=dict)  # mini-program subscribe-message grants
    language: Mapped[str | None] = mapped_column(String(8))  # what the account reads (国际版: "en"); None: Chinese
    created_at: Mapped[dt.datetime] = _now_col()

    person: Mapped[Person | None] = relationship(back_populates="identities")


class FamilyBinding(Base):
    """An account holder (owner) applies and checks for a family member (家人代办)."""

    __tablename__ = "family_bindings"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    relationship_kind: Mapped[str] = mapped_column(String(16))  # child/parent/spouse/grandparent/other
    consent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # adults: consent confirmed
    guardian: Mapped[bool] = mapped_column(Boolean, default=False)  # a child under 14
    created_at: Mapped[dt.datetime] = _now_col()
    unbound_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Staff(Base):
    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    scope: Mapped[list] = mapped_column(JSON, default=list)  # district codes, community role
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the token
    token_hint: Mapped[str] = mapped_column(String(16))  # first characters, to tell tokens apart
    created_at: Mapped[dt.datetime] = _now_col()
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # the console's sessions carry it; a new one (sign-out, a new token) ends them all
    session_nonce: Mapped[str | None] = mapped_column(String(32))


class AuditLog(Base):
    """Append-only record of every read of personal data and every change."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))  # staff/citizen/system
    actor_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_person_id: Mapped[int | None] = mapped_column(Integer, index=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)  # masked values only
    request_id: Mapped[str | None] = mapped_column(String(64))
