"""auth: web_sessions.last_seen_at, so a dashboard session left idle ends (setting session_idle_s)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('web_sessions', sa.Column('last_seen_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('web_sessions') as batch:
        batch.drop_column('last_seen_at')
