"""What the tables share: the creation instant, and how a fact is voided."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (ForeignKey)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from bot.infra.db import Encrypted, UTCDateTime, utcnow


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
