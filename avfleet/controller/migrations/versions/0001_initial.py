"""initial fleet and commands tables

Revision ID: 0001
Revises:
Create Date: 2026-11-29 07:09:24.887353
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('agents',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('state_ts', sa.DateTime(), nullable=True),
    sa.Column('last_seen', sa.DateTime(), nullable=True),
    sa.Column('version', sa.String(length=64), nullable=True),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('boot_id', sa.String(length=64), nullable=True),
    sa.Column('municipality', sa.String(length=128), nullable=True),
    sa.Column('school', sa.String(length=128), nullable=True),
    sa.Column('room', sa.String(length=128), nullable=True),
    sa.Column('birth_ts', sa.DateTime(), nullable=True),
    sa.Column('configured_devices', sa.JSON(), nullable=True),
    sa.Column('health', sa.JSON(), nullable=True),
    sa.Column('health_ts', sa.DateTime(), nullable=True),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('agent_id')
    )
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agents_changed_at'), ['changed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_agents_municipality'), ['municipality'], unique=False)
        batch_op.create_index(batch_op.f('ix_agents_school'), ['school'], unique=False)
        batch_op.create_index(batch_op.f('ix_agents_state'), ['state'], unique=False)

    op.create_table('received_messages',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('agent_id', 'seq')
    )
    with op.batch_alter_table('received_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_received_messages_received_at'), ['received_at'], unique=False)

    op.create_table('commands',
    sa.Column('command_id', sa.String(length=64), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('args', sa.JSON(), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.String(length=512), nullable=True),
    sa.Column('result_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.agent_id'], ),
    sa.PrimaryKeyConstraint('command_id')
    )
    with op.batch_alter_table('commands', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_commands_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_commands_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_commands_issued_at'), ['issued_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_commands_status'), ['status'], unique=False)

    op.create_table('devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=True),
    sa.Column('protocol', sa.String(length=16), nullable=True),
    sa.Column('availability', sa.String(length=16), nullable=False),
    sa.Column('power', sa.String(length=16), nullable=False),
    sa.Column('active_faults', sa.String(length=128), nullable=False),
    sa.Column('input', sa.String(length=32), nullable=True),
    sa.Column('power_w', sa.Float(), nullable=True),
    sa.Column('serial', sa.String(length=128), nullable=True),
    sa.Column('model', sa.String(length=128), nullable=True),
    sa.Column('firmware', sa.String(length=128), nullable=True),
    sa.Column('status', sa.JSON(), nullable=True),
    sa.Column('observed_at', sa.DateTime(), nullable=True),
    sa.Column('last_change', sa.DateTime(), nullable=True),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.agent_id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('agent_id', 'device_id', name='uq_devices_agent_device')
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_changed_at'), ['changed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_device_id'), ['device_id'], unique=False)

    op.create_table('device_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('device_pk', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('replayed', sa.Boolean(), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('component', sa.String(length=64), nullable=True),
    sa.Column('old', sa.JSON(), nullable=False),
    sa.Column('new', sa.JSON(), nullable=False),
    sa.Column('detail', sa.String(length=512), nullable=True),
    sa.Column('observed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['device_pk'], ['devices.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('device_events', schema=None) as batch_op:
        batch_op.create_index('ix_device_events_device_observed', ['device_pk', 'observed_at'], unique=False)

    op.create_table('device_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('device_pk', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('replayed', sa.Boolean(), nullable=False),
    sa.Column('observed_at', sa.DateTime(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('availability', sa.String(length=16), nullable=False),
    sa.Column('power', sa.String(length=16), nullable=False),
    sa.Column('active_faults', sa.String(length=128), nullable=False),
    sa.Column('input', sa.String(length=32), nullable=True),
    sa.Column('power_w', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['device_pk'], ['devices.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('device_history', schema=None) as batch_op:
        batch_op.create_index('ix_device_history_device_observed', ['device_pk', 'observed_at'], unique=False)

    op.create_table('inventory_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('device_pk', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('device_id', sa.String(length=64), nullable=False),
    sa.Column('manufacturer', sa.String(length=128), nullable=True),
    sa.Column('model', sa.String(length=128), nullable=True),
    sa.Column('serial', sa.String(length=128), nullable=True),
    sa.Column('firmware', sa.String(length=128), nullable=True),
    sa.Column('mac', sa.String(length=32), nullable=True),
    sa.Column('first_seen', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_reason', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['device_pk'], ['devices.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('inventory_records', schema=None) as batch_op:
        batch_op.create_index('ix_inventory_device_open', ['device_pk', 'closed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_inventory_records_serial'), ['serial'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('inventory_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inventory_records_serial'))
        batch_op.drop_index('ix_inventory_device_open')

    op.drop_table('inventory_records')
    with op.batch_alter_table('device_history', schema=None) as batch_op:
        batch_op.drop_index('ix_device_history_device_observed')

    op.drop_table('device_history')
    with op.batch_alter_table('device_events', schema=None) as batch_op:
        batch_op.drop_index('ix_device_events_device_observed')

    op.drop_table('device_events')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_device_id'))
        batch_op.drop_index(batch_op.f('ix_devices_changed_at'))
        batch_op.drop_index(batch_op.f('ix_devices_agent_id'))

    op.drop_table('devices')
    with op.batch_alter_table('commands', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commands_status'))
        batch_op.drop_index(batch_op.f('ix_commands_issued_at'))
        batch_op.drop_index(batch_op.f('ix_commands_device_id'))
        batch_op.drop_index(batch_op.f('ix_commands_agent_id'))

    op.drop_table('commands')
    with op.batch_alter_table('received_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_received_messages_received_at'))

    op.drop_table('received_messages')
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agents_state'))
        batch_op.drop_index(batch_op.f('ix_agents_school'))
        batch_op.drop_index(batch_op.f('ix_agents_municipality'))
        batch_op.drop_index(batch_op.f('ix_agents_changed_at'))

    op.drop_table('agents')

