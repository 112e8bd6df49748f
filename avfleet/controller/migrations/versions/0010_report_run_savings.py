"""reports: report_run_savings (each schedule run's kWh saved, split per municipality once)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('report_run_savings',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('municipality', sa.String(length=128), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('devices', sa.Integer(), nullable=False),
    sa.Column('kwh_saved', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['schedule_runs.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'municipality')
    )
    op.create_index(op.f('ix_report_run_savings_started_at'), 'report_run_savings', ['started_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_report_run_savings_started_at'), table_name='report_run_savings')
    op.drop_table('report_run_savings')
