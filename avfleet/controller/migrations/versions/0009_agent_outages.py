"""energy: agent outages (lost or stopped agents), gaps in their devices' energy figures

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agent_outages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('since', sa.DateTime(), nullable=False),
    sa.Column('until', sa.DateTime(), nullable=True),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_agent_outages_agent_since', 'agent_outages', ['agent_id', 'since'], unique=False)
    op.create_index(op.f('ix_agent_outages_until'), 'agent_outages', ['until'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_agent_outages_until'), table_name='agent_outages')
    op.drop_index('ix_agent_outages_agent_since', table_name='agent_outages')
    op.drop_table('agent_outages')
