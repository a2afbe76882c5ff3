"""Export of everything a learner owns, as JSON-ready data."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.models import Base  # every domain's tables, so the export misses none

# Credential material is never exported, not even hashed: password and token hashes, API-key and
# OAuth code/token hashes, PKCE challenges, client secrets. Matched by name so that a credential
# column added later is left out without anyone remembering to list it (a content hash is not a
# credential); a column whose name does not say so is marked with `info={"credential": True}`.
_CREDENTIAL_NAME = re.compile(r"password|secret|token(?!s)|(code|key)_hash|challenge|verifier")


def is_credential(column: Column[Any]) -> bool:
    """Whether a column holds credential material (never exported)."""
    return bool(column.info.get("credential")) or _CREDENTIAL_NAME.search(column.name) is not None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _row(table: Table, row: Any) -> dict[str, Any]:
    return {
        column.name: _jsonable(row._mapping[column]) for column in table.columns if not is_credential(column)
    }


async def export_user_data(session: AsyncSession, *, user_id: uuid.UUID) -> dict[str, Any]:
    """Every row that references the user, table by table, plus rows hanging off those rows.

    It walks the schema's foreign keys rather than listing tables, so a table added later is
    exported without anyone remembering to add it here.
    """
    tables = Base.metadata.sorted_tables
    users = Base.metadata.tables["users"]
    exported: dict[str, Any] = {}
    owned_ids: dict[str, list[Any]] = {}
    user_row = (await session.execute(select(users).where(users.c.id == user_id))).one()
    exported["user"] = _row(users, user_row)
    owned_ids["users"] = [user_id]
    for table in tables:
        if table.name == "users":
            continue
        # A row that names a user belongs to that user: follow that key before any other, so a table
        # such as team_members exports the learner's own rows, not those of the learner's team.
        for foreign_key in sorted(table.foreign_keys, key=lambda key: key.column.table.name != "users"):
            parent = foreign_key.column.table.name
            if parent not in owned_ids or not owned_ids[parent]:
                continue
            rows = (
                await session.execute(select(table).where(foreign_key.parent.in_(owned_ids[parent])))
            ).all()
            exported[table.name] = [_row(table, row) for row in rows]
            if "id" in table.c:
                owned_ids[table.name] = [row._mapping[table.c.id] for row in rows]
            break
    return exported
