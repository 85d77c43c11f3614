"""The domain's words, once: every closed set of values the code, the database and the flows share.

StrEnums, so a member is its string (stored as is, compared with plain strings, dumped to JSON)
and `tuple(Colour)` lists the values in their order. The flows in handlers/ may import this
module (and the conversation engine's types) and nothing else of ours.
"""
from __future__ import annotations

from enum import StrEnum


class Colour(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class IdType(StrEnum):
    ID_CARD = "id_card"
    PASSPORT = "passport"
    PERMIT = "permit"


class Channel(StrEnum):
    WECHAT = "wechat"
    WECHAT_MP = "wechat_mp"
    ALIPAY = "alipay"


class Source(StrEnum):
    """Where a declaration or an appeal came from besides a chat channel."""
    CHAT = "chat"
    COUNTER = "counter"    # a counter clerk, in person (also the channel of their declarations)
    HOTLINE = "hotline"    # a 12345 operator, for a caller


class CaseStatus(StrEnum):
    CONFIRMED = "confirmed"
    SUSPECTED = "suspected"
    ASYMPTOMATIC = "asymptomatic"
    CLOSE_CONTACT = "close_contact"


class MeasureKind(StrEnum):
    CENTRALIZED_ISOLATION = "centralized_isolation"
    HOME_ISOLATION = "home_isolation"
    HOME_HEALTH_OBSERVATION = "home_health_observation"
    DAILY_HEALTH_MONITORING = "daily_health_monitoring"


class OriginClass(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    RISK_COUNTY = "risk_county"
    CASE_CITY = "case_city"
    LOW = "low"
    UNKNOWN = "unknown"  # an arrival report's origin the risk-area table did not know, until staff classify it


class Role(StrEnum):
    ADMIN = "admin"
    REVIEWER = "reviewer"
    COMMUNITY = "community"
    LAB = "lab"
    SCANNER = "scanner"
    COUNTER = "counter"    # a service counter (线下窗口): serves people in person
    HOTLINE = "hotline"    # a 12345 operator: files appeals for callers


class Relation(StrEnum):
    CHILD = "child"
    PARENT = "parent"
    SPOUSE = "spouse"
    GRANDPARENT = "grandparent"
    OTHER = "other"


class NoticeStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"            # claimed by a delivery run
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"


class NoticeKind(StrEnum):
    CODE_CHANGED = "code_changed"
    CODE_IMAGE = "code_image"
    APPEAL_DECIDED = "appeal_decided"
    PASS_ENDING = "pass_ending"
    CHAT_REPLY = "chat_reply"
    ACCOUNT_BOUND = "account_bound"        # another chat account now acts as this person
    FAMILY_ADDED_YOU = "family_added_you"  # someone bound this registered adult as a family member
    FAMILY_DROPPED = "family_dropped"      # the owner's registration showed the binder's name was wrong
    FAMILY_REVOKED = "family_revoked"      # the member revoked the binder's binding
    PHONE_CHANGED = "phone_changed"        # staff changed the phone on file
    COUNTER_DECLARED = "counter_declared"  # a counter clerk declared for this person, in person


class AppealStatus(StrEnum):
    OPEN = "open"
    CLAIMED = "claimed"
    DECIDED = "decided"


class EvidenceStatus(StrEnum):
    PENDING = "pending"    # to be fetched from the platform
    FETCHED = "fetched"    # kept, sealed
    FAILED = "failed"      # the platform refused it, or it was not a JPEG/PNG/GIF/WebP picture


class AlertStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class ReportStatus(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    VERIFIED = "verified"


class Result(StrEnum):
    """A test's result."""
    NEGATIVE = "negative"
    POSITIVE = "positive"


class Cause(StrEnum):
    """What made a code change (code_history.cause)."""
    DECLARATION = "declaration"
    LAB_RESULT = "lab_result"
    MEASURE = "measure"
    TIME = "time"
    POLICY_CHANGE = "policy_change"
    RISK_AREAS = "risk_areas"
    STAFF = "staff"
    APPEAL = "appeal"
