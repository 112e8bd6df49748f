"""calendars, schedules and their runs

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_days',
    sa.Column('start', sa.Date(), nullable=False),
    sa.Column('end', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('municipality', sa.String(length=128), nullable=False),
    sa.Column('school', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_calendar_days_municipality'), 'calendar_days', ['municipality'], unique=False)
    op.create_table('schedules',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('times', sa.JSON(), nullable=False),
    sa.Column('days', sa.JSON(), nullable=False),
    sa.Column('scope', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('exceptions', sa.JSON(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('handled_until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('schedule_runs',
    sa.Column('schedule_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('occurrence_at', sa.DateTime(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('requested_by', sa.String(length=128), nullable=False),
    sa.Column('targeted', sa.Integer(), nullable=False),
    sa.Column('already_off', sa.Integer(), nullable=False),
    sa.Column('already_on', sa.Integer(), nullable=False),
    sa.Column('powered_off', sa.Integer(), nullable=False),
    sa.Column('powered_on', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('unreachable', sa.Integer(), nullable=False),
    sa.Column('expired', sa.Integer(), nullable=False),
    sa.Column('not_today', sa.Integer(), nullable=False),
    sa.Column('kwh_saved', sa.Float(), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedules.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('schedule_id', 'occurrence_at', name='uq_schedule_runs_occurrence')
    )
    op.create_index(op.f('ix_schedule_runs_schedule_id'), 'schedule_runs', ['schedule_id'], unique=False)
    op.create_index(op.f('ix_schedule_runs_state'), 'schedule_runs', ['state'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_schedule_runs_state'), table_name='schedule_runs')
    op.drop_index(op.f('ix_schedule_runs_schedule_id'), table_name='schedule_runs')
    op.drop_table('schedule_runs')
    op.drop_table('schedules')
    op.drop_index(op.f('ix_calendar_days_municipality'), table_name='calendar_days')
    op.drop_table('calendar_days')
