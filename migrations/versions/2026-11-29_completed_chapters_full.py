"""completed chapters count as 100%: fix rows completed by a passed quiz at a partial percentage

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

chapter_progress = sa.table(
    'chapter_progress',
    sa.column('completed', sa.Boolean()),
    sa.column('completion_percentage', sa.Float()),
)


def upgrade() -> None:
    # Data only: the service now sets 100% whenever it completes a chapter.
    op.execute(
        chapter_progress.update()
        .where(chapter_progress.c.completed.is_(True), chapter_progress.c.completion_percentage < 100)
        .values(completion_percentage=100.0)
    )


def downgrade() -> None:
    # The partial percentages are not kept; 100% stays true for a completed chapter.
    pass
