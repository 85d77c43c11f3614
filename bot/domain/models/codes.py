"""Codes, their history and re-evaluation runs; what is pushed (notices), passes, venue scans, daily counts."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, Date, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.infra.db import Base, Encrypted, SealedJSON, UTCDateTime
from bot.domain.models.columns import _now_col
from bot.domain.vocab import NoticeStatus


class Code(Base):
    """A person's current code. version grows by one at each change of colour or rule."""

    __tablename__ = "codes"
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    colour: Mapped[str] = mapped_column(String(8), index=True)
    rule: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    next_step: Mapped[str] = mapped_column(Text, default="")
    # the reason and next step in the other languages ({"en": {"reason", "next_step"}}), from the
    # policy's translated wording; none when the policy has no translation
    wording: Mapped[dict | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    policy: Mapped[str] = mapped_column(String(64))
    since: Mapped[dt.datetime] = _now_col()  # when this colour began
    evaluated_at: Mapped[dt.datetime] = _now_col()
    reevaluate_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    green_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # when time alone turns it green

    person: Mapped["Person"] = relationship(back_populates="code")  # noqa: F821  (bot.domain.models.people)


class CodeHistory(Base):
    """Append-only: every change of a person's code, with what caused it."""

    __tablename__ = "code_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    old_colour: Mapped[str | None] = mapped_column(String(8))
    new_colour: Mapped[str] = mapped_column(String(8))
    rule: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    cause: Mapped[str] = mapped_column(String(24))  # declaration/lab_result/measure/time/policy_change/staff/appeal
    created_at: Mapped[dt.datetime] = _now_col()


class ReevaluationRun(Base):
    """A mass re-evaluation (risk areas or policy changed), planned into chunk effects."""

    __tablename__ = "reevaluation_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    cause: Mapped[str] = mapped_column(String(24))
    policy: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default="running")  # planning/running/done
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    cursor: Mapped[int] = mapped_column(Integer, default=0)  # chunks still to run
    started_at: Mapped[dt.datetime] = _now_col()
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class DailyColourCount(Base):
    """Anonymous counts of codes by colour per day: the stats chart, and what purge leaves."""

    __tablename__ = "daily_colour_counts"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    colour: Mapped[str] = mapped_column(String(8), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Notice(Base):
    """A push to one chat account; ends delivered or undeliverable with a reason."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_due", "status", "available_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))  # code_changed/appeal_decided/pass_ending/code_image
    payload: Mapped[dict] = mapped_column(SealedJSON("notices.payload"), default=dict)  # texts with links
    # pending -> sending (claimed by a delivery run) -> delivered / undeliverable, or back to pending
    status: Mapped[str] = mapped_column(String(16), default=NoticeStatus.PENDING, index=True)
    via: Mapped[str | None] = mapped_column(String(24))  # template/custom/subscribe/alipay
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # not before (back-off); None: now
    claim: Mapped[str | None] = mapped_column(String(32))  # the delivery run holding it (fences late writes)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = _now_col()
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class LimitedPass(Base):
    """限时通行: one per yellow episode (identified by the code version it was taken in)."""

    __tablename__ = "limited_passes"
    __table_args__ = (UniqueConstraint("person_id", "episode"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    episode: Mapped[str] = mapped_column(String(64))
    hours: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    destination: Mapped[str] = mapped_column(Encrypted("limited_passes.destination"))
    created_at: Mapped[dt.datetime] = _now_col()


class Scan(Base):
    """A venue scan (time, venue, masked name, colour), kept as the seeds require."""

    __tablename__ = "scans"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = _now_col()
    venue: Mapped[str] = mapped_column(String(128))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    code_version: Mapped[int | None] = mapped_column(Integer)
    colour: Mapped[str | None] = mapped_column(String(8))
    verdict: Mapped[str] = mapped_column(String(8))  # valid/expired/invalid
    masked_name: Mapped[str | None] = mapped_column(String(64))


class SigningKey(Base):
    """An Ed25519 key that signs the offline-verifiable QR claims (bot.infra.signing). The newest
    key not retired signs; every key verifies until `verify_until` (its last code expired), and
    is published at /.well-known/healthcode-keys.json until then. The private half is sealed
    with the PII key."""

    __tablename__ = "signing_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(16), unique=True)
    public_key: Mapped[str] = mapped_column(String(64))  # raw 32 bytes, base64url
    private_key: Mapped[str] = mapped_column(Encrypted("signing_keys.private_key"))  # raw 32 bytes, base64url
    created_at: Mapped[dt.datetime] = _now_col()
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # signs no more from then
    verify_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # published and trusted until then


class PaperCode(Base):
    """A printed code (纸质健康码) for someone without a phone, or kept by a family member: its
    signed QR holds the colour and code version of the time it was issued and is valid until
    `valid_until` (PAPER_CODE_DAYS); a colour change makes it scan as outdated online, and the
    push says to print a new one."""

    __tablename__ = "paper_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    colour: Mapped[str] = mapped_column(String(8))
    code_version: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[dt.datetime] = _now_col()
    valid_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
