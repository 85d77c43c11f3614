"""The whole domain's tables. Later work adds behaviour, not tables.

Personal data (names, ID numbers, phones, addresses, free text that may hold them, evidence
images) is in Encrypted columns; ID look-ups use Person.id_hash (a keyed hash). Dates that the
rules read are calendar days in Asia/Shanghai (Date); instants are UTC (UTCDateTime).
"""
from __future__ import annotations

from bot.domain import vocab
from bot.infra.db import Base

# the closed sets, as tuples of their values (bot.domain.vocab holds the words)
COLOURS = tuple(vocab.Colour)
ID_TYPES = tuple(vocab.IdType)
CHANNELS = tuple(vocab.Channel)
CASE_STATUSES = tuple(vocab.CaseStatus)
MEASURE_KINDS = tuple(vocab.MeasureKind)
ORIGIN_CLASSES = tuple(vocab.OriginClass)
ROLES = tuple(vocab.Role)

from bot.domain.models.cases import Alert, Appeal, AppealEvidence, ArrivalReport, ReportHandOver  # noqa: E402
from bot.domain.models.codes import (Code, CodeHistory, DailyColourCount, LimitedPass, Notice,  # noqa: E402
                                     PaperCode, ReevaluationRun, Scan, SigningKey)
from bot.domain.models.facts import (CaseStatus, Declaration, Designation, Measure, PersonFlag,  # noqa: E402
                                     RiskArea, TestResult, TravelFact)
from bot.domain.models.people import AuditLog, ChannelIdentity, FamilyBinding, Person, Staff  # noqa: E402
from bot.infra.outbox import EffectLedger, Outbox  # noqa: E402  (the whole schema is importable from here)

# SQLite otherwise hands a deleted row's id to the next row: after a purge an old link, token or
# audit row would name somebody else. AUTOINCREMENT never reuses one (PostgreSQL never does).
for _table in Base.metadata.tables.values():
    _table.dialect_kwargs["sqlite_autoincrement"] = True

__all__ = ["Alert", "Appeal", "AppealEvidence", "ArrivalReport", "AuditLog", "Base", "CaseStatus", "ChannelIdentity",
           "Code", "CodeHistory", "DailyColourCount", "Declaration", "Designation", "EffectLedger", "FamilyBinding",
           "LimitedPass", "Measure", "Notice", "Outbox", "PaperCode", "Person", "PersonFlag", "ReevaluationRun", "ReportHandOver", "RiskArea", "Scan",
           "SigningKey", "Staff", "TestResult", "TravelFact", "COLOURS", "ID_TYPES", "CHANNELS", "CASE_STATUSES", "MEASURE_KINDS",
           "ORIGIN_CLASSES", "ROLES"]
