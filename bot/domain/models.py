"""The whole domain's tables. Later work adds behaviour, not tables.

Personal data (names, ID numbers, phones, addresses, free text that may hold them, evidence
images) is in Encrypted columns; ID look-ups use Person.id_hash (a keyed hash). Dates that the
rules read are calendar days in Asia/Shanghai (Date); instants are UTC (UTCDateTime).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from bot.domain import vocab
from bot.infra.db import Base, Encrypted, UTCDateTime, utcnow
from bot.infra.outbox import EffectLedger, Outbox  # noqa: F401  (the whole schema is importable from here)

# the closed sets, as tuples of their values (bot.domain.vocab holds the words)
COLOURS = tuple(vocab.Colour)
ID_TYPES = tuple(vocab.IdType)
CHANNELS = tuple(vocab.Channel)
CASE_STATUSES = tuple(vocab.CaseStatus)
MEASURE_KINDS = tuple(vocab.MeasureKind)
ORIGIN_CLASSES = tuple(vocab.OriginClass)
ROLES = tuple(vocab.Role)


def _now_col():
    return mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Voidable:
    """A fact that can be found wrong (an upheld appeal, a false positive): it is kept, with who
    voided it, when and why, and the rules never read it again."""

    voided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    @declared_attr
    def voided_by_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))

    @declared_attr
    def void_reason(cls) -> Mapped[str | None]:
        return mapped_column(Encrypted(f"{cls.__tablename__}.void_reason", 2048))


class Person(Base):
    """Someone with (or applying for) a health code: a registered user or a family member."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    id_type: Mapped[str] = mapped_column(String(16))
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)  # HMAC of id_type + normalised number
    id_number: Mapped[str] = mapped_column(Encrypted("people.id_number"))
    name: Mapped[str] = mapped_column(Encrypted("people.name"))
    phone: Mapped[str | None] = mapped_column(Encrypted("people.phone"))
    address: Mapped[str | None] = mapped_column(Encrypted("people.address"))
    district: Mapped[str | None] = mapped_column(String(12), index=True)  # region code, scopes community staff
    registered: Mapped[bool] = mapped_column(Boolean, default=False)  # registered themselves in chat
    created_at: Mapped[dt.datetime] = _now_col()
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    identities: Mapped[list[ChannelIdentity]] = relationship(back_populates="person")
    code: Mapped[Code | None] = relationship(back_populates="person", uselist=False)


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
    created_at: Mapped[dt.datetime] = _now_col()

    person: Mapped[Person | None] = relationship(back_populates="identities")


class Declaration(Voidable, Base):
    """A health self-declaration (questions 6-10), by the person or by a family member for them."""

    __tablename__ = "declarations"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    channel: Mapped[str | None] = mapped_column(String(16))
    overseas: Mapped[bool] = mapped_column(Boolean, default=False)
    travel_answer: Mapped[int] = mapped_column(Integer, default=4)  # product.md question 7, 1..4
    origin_code: Mapped[str | None] = mapped_column(String(12))
    origin_text: Mapped[str | None] = mapped_column(Encrypted("declarations.origin_text"))
    arrival_date: Mapped[dt.date | None] = mapped_column(Date)
    symptoms: Mapped[bool] = mapped_column(Boolean, default=False)
    case_reported: Mapped[bool] = mapped_column(Boolean, default=False)
    measure_answer: Mapped[int] = mapped_column(Integer, default=5)  # question 10, 1..5
    overseas_arrival: Mapped[dt.date | None] = mapped_column(Date)
    case_status: Mapped[str | None] = mapped_column(String(16))  # question 9's follow-up
    # the chat message that submitted it: a retry after a crash finds it instead of storing it twice
    submission_key: Mapped[str | None] = mapped_column(String(160), unique=True, index=True)
    declared_at: Mapped[dt.datetime] = _now_col()


class CaseStatus(Voidable, Base):
    """Confirmed / suspected / asymptomatic / close contact, set and released by staff."""

    __tablename__ = "case_statuses"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    since: Mapped[dt.date] = mapped_column(Date)
    released_on: Mapped[dt.date | None] = mapped_column(Date)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _now_col()
    recorded_at: Mapped[dt.datetime] = _now_col()  # when the rules learnt it (a designation covers what came before)


class Measure(Voidable, Base):
    """Isolation, observation or monitoring: ongoing while today < end and not ended_on."""

    __tablename__ = "measures"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    start: Mapped[dt.date] = mapped_column(Date)
    end: Mapped[dt.date | None] = mapped_column(Date)
    ended_on: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16), default="staff")  # staff / declaration
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _now_col()
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    recorded_at: Mapped[dt.datetime] = _now_col()  # started or extended


class TestResult(Voidable, Base):
    __test__ = False  # not a pytest class
    __tablename__ = "test_results"
    __table_args__ = (UniqueConstraint("person_id", "sampled_at", "lab"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    sampled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    result: Mapped[str] = mapped_column(String(8))  # negative / positive
    lab: Mapped[str] = mapped_column(String(128), default="")
    source: Mapped[str] = mapped_column(String(16), default="lab")  # lab / appeal
    created_at: Mapped[dt.datetime] = _now_col()


class TravelFact(Voidable, Base):
    """Where someone arrived from and when: from declarations, arrival reports or staff."""

    __tablename__ = "travel_facts"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    overseas: Mapped[bool] = mapped_column(Boolean, default=False)
    origin_class: Mapped[str | None] = mapped_column(String(16))  # high/medium/risk_county/case_city/low
    origin_code: Mapped[str | None] = mapped_column(String(12), index=True)  # region code, for re-evaluation
    arrival: Mapped[dt.date] = mapped_column(Date, index=True)
    reported_on: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16), default="declaration")
    created_at: Mapped[dt.datetime] = _now_col()
    recorded_at: Mapped[dt.datetime] = _now_col()  # reported, or classified by staff


class ArrivalReport(Base):
    """一键直报: queued for the community; the first officer to open it owns it."""

    __tablename__ = "arrival_reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    origin_address: Mapped[str] = mapped_column(Encrypted("arrival_reports.origin_address"))
    origin_code: Mapped[str | None] = mapped_column(String(12))
    left_on: Mapped[dt.date] = mapped_column(Date)
    arrival_on: Mapped[dt.date] = mapped_column(Date)
    destination_address: Mapped[str] = mapped_column(Encrypted("arrival_reports.destination_address"))
    district: Mapped[str | None] = mapped_column(String(12), index=True)
    travel_fact_id: Mapped[int | None] = mapped_column(ForeignKey("travel_facts.id", ondelete="SET NULL"))
    phone_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)  # pending/claimed/verified
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _now_col()


class Designation(Base):
    """A staff-set colour (其他须纳入红/黄码管理的人员, or an appeal's correction)."""

    __tablename__ = "designations"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    colour: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = _now_col()


class PersonFlag(Voidable, Base):
    """Staff flags the rules read, e.g. unexplained fever (不明原因发热)."""

    __tablename__ = "person_flags"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    set_at: Mapped[dt.datetime] = _now_col()
    cleared_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))


class Code(Base):
    """A person's current code. version grows by one at each change of colour or rule."""

    __tablename__ = "codes"
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    colour: Mapped[str] = mapped_column(String(8), index=True)
    rule: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    next_step: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    policy: Mapped[str] = mapped_column(String(64))
    since: Mapped[dt.datetime] = _now_col()  # when this colour began
    evaluated_at: Mapped[dt.datetime] = _now_col()
    reevaluate_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    green_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # when time alone turns it green

    person: Mapped[Person] = relationship(back_populates="code")


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


class Appeal(Base):
    __tablename__ = "appeals"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)  # SS20261122000123
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    reason_code: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Encrypted("appeals.description", 4096))
    colour_at_filing: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open/claimed/decided
    deadline: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))  # corrected/upheld
    decided_colour: Mapped[str | None] = mapped_column(String(8))
    reply: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = _now_col()

    evidence: Mapped[list[AppealEvidence]] = relationship(back_populates="appeal", cascade="all, delete-orphan")


class AppealEvidence(Base):
    __tablename__ = "appeal_evidence"
    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id", ondelete="CASCADE"), index=True)
    media_id: Mapped[str | None] = mapped_column(String(256))  # the platform's media id
    content_type: Mapped[str] = mapped_column(String(64), default="image/jpeg")
    sha256: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[bytes | None] = mapped_column(LargeBinary)  # AES-GCM sealed by the evidence store
    created_at: Mapped[dt.datetime] = _now_col()

    appeal: Mapped[Appeal] = relationship(back_populates="evidence")


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


class Notice(Base):
    """A push to one chat account; ends delivered or undeliverable with a reason."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_due", "status", "available_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    identity_id: Mapped[int | None] = mapped_column(ForeignKey("channel_identities.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))  # code_changed/appeal_decided/pass_ending/code_image
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    # pending -> sending (claimed by a delivery run) -> delivered / undeliverable, or back to pending
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    via: Mapped[str | None] = mapped_column(String(24))  # template/custom/subscribe/alipay
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # not before (back-off); None: now
    claim: Mapped[str | None] = mapped_column(String(32))  # the delivery run holding it (fences late writes)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = _now_col()
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Alert(Base):
    """A positive test waiting for staff (reviewers, and community staff of the person's district):
    setting a case status or voiding the result resolves it."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    test_result_id: Mapped[int | None] = mapped_column(ForeignKey("test_results.id", ondelete="CASCADE"),
                                                       unique=True)
    kind: Mapped[str] = mapped_column(String(24), default="positive_test")
    district: Mapped[str | None] = mapped_column(String(12), index=True)
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)  # open / resolved
    resolution: Mapped[str | None] = mapped_column(String(32))  # case:<status> / voided
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = _now_col()


class RiskArea(Base):
    __tablename__ = "risk_areas"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)  # administrative division code
    name: Mapped[str] = mapped_column(String(128))
    level: Mapped[str] = mapped_column(String(8))  # high/medium/low
    since: Mapped[dt.date] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


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


class DailyColourCount(Base):
    """Anonymous counts of codes by colour per day: the stats chart, and what purge leaves."""

    __tablename__ = "daily_colour_counts"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    colour: Mapped[str] = mapped_column(String(8), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
