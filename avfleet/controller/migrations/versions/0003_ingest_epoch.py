"""ingest: dedup and ordering survive a lost outbox

`received_messages` gains the agent outbox's `epoch` in its primary key (agent_id, epoch, seq);
rows from before it belong to the legacy epoch "0". `devices` gains the (epoch, seq) of its
current state, so states of one epoch are ordered by seq rather than by the agent's clock.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state_epoch", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("state_seq", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        _copy_received_messages(["agent_id", "epoch", "seq"], "'0'")  # no primary key change in place
    else:
        op.add_column("received_messages",
                      sa.Column("epoch", sa.String(length=32), nullable=False, server_default="0"))
        op.alter_column("received_messages", "epoch", server_default=None)  # the default was for old rows
        op.drop_constraint("received_messages_pkey", "received_messages", type_="primary")
        op.create_primary_key("received_messages_pkey", "received_messages", ["agent_id", "epoch", "seq"])


def downgrade() -> None:
    # Rows of other epochs would collide on (agent_id, seq): the dedup table is a cache, so empty it.
    op.execute("DELETE FROM received_messages")
    if op.get_bind().dialect.name == "sqlite":
        _copy_received_messages(["agent_id", "seq"], None)
    else:
        op.drop_constraint("received_messages_pkey", "received_messages", type_="primary")
        op.drop_column("received_messages", "epoch")
        op.create_primary_key("received_messages_pkey", "received_messages", ["agent_id", "seq"])
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("state_seq")
        batch_op.drop_column("state_epoch")


def _copy_received_messages(key: list[str], epoch_value: str | None) -> None:
    """SQLite: a new table with the wanted primary key, the rows copied over, then renamed."""
    columns = [sa.Column("agent_id", sa.String(length=64), nullable=False)]
    if epoch_value is not None:
        columns.append(sa.Column("epoch", sa.String(length=32), nullable=False))
    columns += [sa.Column("seq", sa.BigInteger(), nullable=False),
                sa.Column("kind", sa.String(length=16), nullable=False),
                sa.Column("received_at", sa.DateTime(), nullable=False)]
    op.create_table("_received_messages_new", *columns, sa.PrimaryKeyConstraint(*key))
    names = "agent_id, " + ("epoch, " if epoch_value is not None else "") + "seq, kind, received_at"
    values = "agent_id, " + (f"{epoch_value}, " if epoch_value is not None else "") + "seq, kind, received_at"
    op.execute(f"INSERT INTO _received_messages_new ({names}) SELECT {values} FROM received_messages")
    op.drop_index("ix_received_messages_received_at", table_name="received_messages")
    op.drop_table("received_messages")
    op.rename_table("_received_messages_new", "received_messages")
    op.create_index("ix_received_messages_received_at", "received_messages", ["received_at"], unique=False)
