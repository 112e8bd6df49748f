"""energy: PDU outlet watts per fed device (energy_outlet_readings), measured energy behind a PDU

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('energy_outlet_readings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('pdu_id', sa.String(length=64), nullable=False),
    sa.Column('outlet', sa.Integer(), nullable=False),
    sa.Column('observed_at', sa.DateTime(), nullable=False),
    sa.Column('power_w', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_energy_outlet_readings_fed', 'energy_outlet_readings',
                    ['agent_id', 'device_id', 'observed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_energy_outlet_readings_fed', table_name='energy_outlet_readings')
    op.drop_table('energy_outlet_readings')
