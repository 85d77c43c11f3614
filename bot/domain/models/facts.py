"""What the rules read: declarations, case statuses, measures, tests, trips, flags, designations, the risk-area table."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (Boolean, Date, ForeignKey, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from bot.infra.db import Base, Encrypted, UTCDateTime, utcnow
from bot.domain.models.columns import Voidable, _now_col


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
    # a counter clerk who declared for the person, in person (channel "counter")
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))


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


class PersonFlag(Voidable, Base):
    """Staff flags the rules read, e.g. unexplained fever (不明原因发热)."""

    __tablename__ = "person_flags"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    set_at: Mapped[dt.datetime] = _now_col()
    cleared_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))


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


class RiskArea(Base):
    __tablename__ = "risk_areas"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)  # administrative division code
    name: Mapped[str] = mapped_column(String(128))
    level: Mapped[str] = mapped_column(String(8))  # high/medium/low
    since: Mapped[dt.date] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
