"""energy: daily and monthly roll-ups per device (local days), and which days are rolled up

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('energy_daily',
    sa.Column('kwh', sa.Float(), nullable=False),
    sa.Column('kwh_school_hours', sa.Float(), nullable=False),
    sa.Column('kwh_left_on', sa.Float(), nullable=False),
    sa.Column('kwh_standby', sa.Float(), nullable=False),
    sa.Column('hours_on', sa.Float(), nullable=False),
    sa.Column('hours_left_on', sa.Float(), nullable=False),
    sa.Column('municipality', sa.String(length=128), nullable=True),
    sa.Column('school', sa.String(length=128), nullable=True),
    sa.Column('room', sa.String(length=128), nullable=True),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('device_pk', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('period_s', sa.Float(), nullable=False),
    sa.Column('measured_s', sa.Float(), nullable=False),
    sa.Column('rated_s', sa.Float(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['device_pk'], ['devices.id'], ),
    sa.PrimaryKeyConstraint('device_pk', 'day')
    )
    op.create_index('ix_energy_daily_day', 'energy_daily', ['day'], unique=False)
    op.create_table('energy_monthly',
    sa.Column('kwh', sa.Float(), nullable=False),
    sa.Column('kwh_school_hours', sa.Float(), nullable=False),
    sa.Column('kwh_left_on', sa.Float(), nullable=False),
    sa.Column('kwh_standby', sa.Float(), nullable=False),
    sa.Column('hours_on', sa.Float(), nullable=False),
    sa.Column('hours_left_on', sa.Float(), nullable=False),
    sa.Column('municipality', sa.String(length=128), nullable=True),
    sa.Column('school', sa.String(length=128), nullable=True),
    sa.Column('room', sa.String(length=128), nullable=True),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('device_pk', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('period_s', sa.Float(), nullable=False),
    sa.Column('measured_s', sa.Float(), nullable=False),
    sa.Column('rated_s', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['device_pk'], ['devices.id'], ),
    sa.PrimaryKeyConstraint('device_pk', 'year', 'month')
    )
    op.create_table('energy_rolled_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('devices', sa.Integer(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('day')
    )


def downgrade() -> None:
    op.drop_table('energy_rolled_days')
    op.drop_table('energy_monthly')
    op.drop_index('ix_energy_daily_day', table_name='energy_daily')
    op.drop_table('energy_daily')
