"""the inventory register (`inventory`), its history, repair cases, and inventory_records.unit_id

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inventory',
    sa.Column('municipality', sa.String(length=128), nullable=False),
    sa.Column('school', sa.String(length=128), nullable=False),
    sa.Column('room', sa.String(length=128), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('manufacturer', sa.String(length=128), nullable=True),
    sa.Column('model', sa.String(length=128), nullable=True),
    sa.Column('serial', sa.String(length=128), nullable=True),
    sa.Column('mac', sa.String(length=32), nullable=True),
    sa.Column('firmware', sa.String(length=128), nullable=True),
    sa.Column('install_date', sa.Date(), nullable=True),
    sa.Column('purchase_date', sa.Date(), nullable=True),
    sa.Column('supplier', sa.String(length=128), nullable=True),
    sa.Column('warranty_end', sa.Date(), nullable=True),
    sa.Column('lifecycle', sa.String(length=16), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=True),
    sa.Column('device_id', sa.String(length=64), nullable=True),
    sa.Column('notes', sa.String(length=2000), nullable=True),
    sa.Column('retired_on', sa.Date(), nullable=True),
    sa.Column('reused_on', sa.Date(), nullable=True),
    sa.Column('recycled_on', sa.Date(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('mac'),
    sa.UniqueConstraint('serial')
    )
    with op.batch_alter_table('inventory', schema=None) as batch_op:
        batch_op.create_index('ix_inventory_agent_device', ['agent_id', 'device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inventory_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_inventory_lifecycle'), ['lifecycle'], unique=False)
        batch_op.create_index(batch_op.f('ix_inventory_municipality'), ['municipality'], unique=False)
        batch_op.create_index(batch_op.f('ix_inventory_school'), ['school'], unique=False)
        batch_op.create_index(batch_op.f('ix_inventory_warranty_end'), ['warranty_end'], unique=False)

    op.create_table('inventory_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('by', sa.String(length=128), nullable=False),
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('old', sa.String(length=2000), nullable=True),
    sa.Column('new', sa.String(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['inventory.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('inventory_history', schema=None) as batch_op:
        batch_op.create_index('ix_inventory_history_unit', ['unit_id', 'id'], unique=False)

    op.create_table('repair_cases',
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('opened_by', sa.String(length=128), nullable=False),
    sa.Column('under_warranty', sa.Boolean(), nullable=False),
    sa.Column('supplier', sa.String(length=128), nullable=True),
    sa.Column('supplier_case', sa.String(length=128), nullable=True),
    sa.Column('cost_estimate_sek', sa.Integer(), nullable=True),
    sa.Column('decision', sa.String(length=16), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by', sa.String(length=128), nullable=True),
    sa.Column('notes', sa.String(length=2000), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('previous_lifecycle', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['inventory.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('repair_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_repair_cases_ticket_id'), ['ticket_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_repair_cases_unit_id'), ['unit_id'], unique=False)

    with op.batch_alter_table('inventory_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_inventory_records_unit_id'), ['unit_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inventory_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inventory_records_unit_id'))
        batch_op.drop_column('unit_id')

    with op.batch_alter_table('repair_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_repair_cases_unit_id'))
        batch_op.drop_index(batch_op.f('ix_repair_cases_ticket_id'))

    op.drop_table('repair_cases')
    with op.batch_alter_table('inventory_history', schema=None) as batch_op:
        batch_op.drop_index('ix_inventory_history_unit')

    op.drop_table('inventory_history')
    with op.batch_alter_table('inventory', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inventory_warranty_end'))
        batch_op.drop_index(batch_op.f('ix_inventory_school'))
        batch_op.drop_index(batch_op.f('ix_inventory_municipality'))
        batch_op.drop_index(batch_op.f('ix_inventory_lifecycle'))
        batch_op.drop_index(batch_op.f('ix_inventory_kind'))
        batch_op.drop_index('ix_inventory_agent_device')

    op.drop_table('inventory')
