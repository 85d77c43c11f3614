"""What staff work through: arrival reports, appeals with their evidence, positive-test alerts."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (Boolean, Date, ForeignKey, Integer, LargeBinary, String, Text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.infra.db import Base, Encrypted, UTCDateTime
from bot.domain.models.columns import _now_col
from bot.domain.vocab import AlertStatus, AppealStatus, EvidenceStatus, ReportStatus


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
    status: Mapped[str] = mapped_column(String(16), default=ReportStatus.PENDING, index=True)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _now_col()


class Appeal(Base):
    __tablename__ = "appeals"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)  # SS20261122000123
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    reason_code: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Encrypted("appeals.description", 4096))
    colour_at_filing: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=AppealStatus.OPEN, index=True)
    deadline: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))  # corrected/upheld
    decided_colour: Mapped[str | None] = mapped_column(String(8))
    reply: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = _now_col()
    # chat, or hotline: a 12345 operator filed it for a caller, who hears the decision by SMS
    source: Mapped[str] = mapped_column(String(16), default="chat", server_default="chat")
    filed_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    callback_phone: Mapped[str | None] = mapped_column(Encrypted("appeals.callback_phone"))
    callback_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    evidence: Mapped[list[AppealEvidence]] = relationship(back_populates="appeal", cascade="all, delete-orphan")


class AppealEvidence(Base):
    __tablename__ = "appeal_evidence"
    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id", ondelete="CASCADE"), index=True)
    media_id: Mapped[str | None] = mapped_column(String(256))  # the platform's media id
    content_type: Mapped[str] = mapped_column(String(64), default="image/jpeg")
    sha256: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[bytes | None] = mapped_column(LargeBinary)  # AES-GCM sealed by the evidence store
    # pending -> fetched, or failed (the platform's reason, or what the bytes were instead of a picture)
    status: Mapped[str] = mapped_column(String(16), default=EvidenceStatus.PENDING)
    fetch_error: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[dt.datetime] = _now_col()

    appeal: Mapped[Appeal] = relationship(back_populates="evidence")


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
    status: Mapped[str] = mapped_column(String(12), default=AlertStatus.OPEN, index=True)
    resolution: Mapped[str | None] = mapped_column(String(32))  # case:<status> / voided
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = _now_col()


class ReportHandOver(Base):
    """首问负责制 (seed 002): the officer who owns an arrival report hands it to another district,
    recording who receives it and how to reach them; the report's timeline lists each one."""

    __tablename__ = "report_hand_overs"
    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("arrival_reports.id", ondelete="CASCADE"), index=True)
    from_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    from_district: Mapped[str | None] = mapped_column(String(12))
    to_district: Mapped[str] = mapped_column(String(12))
    receiver_name: Mapped[str] = mapped_column(Encrypted("report_hand_overs.receiver_name"))
    receiver_contact: Mapped[str] = mapped_column(Encrypted("report_hand_overs.receiver_contact"))
    note: Mapped[str | None] = mapped_column(Encrypted("report_hand_overs.note", 2048))
    at: Mapped[dt.datetime] = _now_col()
