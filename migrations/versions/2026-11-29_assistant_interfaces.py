"""assistant interfaces: learning sessions from Claude and other MCP clients, not only ChatGPT

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 14:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW = "interface IN ('web', 'chatgpt', 'claude', 'mcp', 'api')"
OLD = "interface IN ('web', 'chatgpt', 'api')"


def _replace_check(condition: str) -> None:
    # Batch mode rebuilds the table on SQLite, which cannot alter a check constraint in place.
    with op.batch_alter_table('learning_sessions') as batch:
        batch.drop_constraint(op.f('ck_learning_sessions_interface'), type_='check')
        batch.create_check_constraint(op.f('ck_learning_sessions_interface'), condition)


def upgrade() -> None:
    _replace_check(NEW)


def downgrade() -> None:
    # Sessions of the new interfaces become generic API sessions rather than blocking the downgrade.
    op.execute("UPDATE learning_sessions SET interface = 'api' WHERE interface IN ('claude', 'mcp')")
    _replace_check(OLD)
