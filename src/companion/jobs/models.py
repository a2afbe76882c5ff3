"""The record of scheduled job runs: the last period each job ran for, shared by every process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, utcnow


class JobRun(Base):
    """The latest run of one job; `period_start` says which period it covered."""

    __tablename__ = "job_runs"

    job_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    period_start: Mapped[datetime]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    rows_changed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ran_by: Mapped[str | None] = mapped_column(String(255))
