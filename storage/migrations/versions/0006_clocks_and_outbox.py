"""deadline clocks with pauses, outcomes and reminder points; the outbox; shared app state

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sla_clocks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('window_seconds', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('pauses', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('paused_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pause_reason', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('remaining_seconds', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('outcome', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('late_seconds', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('alert_point', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('next_alert_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column('due_at', existing_type=sa.DateTime(timezone=True), nullable=True)
        batch_op.create_index('ix_sla_clocks_next_alert_at', ['next_alert_at'], unique=False)
    with op.batch_alter_table('sla_clocks', schema=None) as batch_op:
        # Server defaults only filled the existing rows; the models give the values from now on.
        batch_op.alter_column('window_seconds', server_default=None)
        batch_op.alter_column('pauses', server_default=None)
        batch_op.alter_column('alert_point', server_default=None)

    op.create_table(
        'outbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=160), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('failure', sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('key'),
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_user_id', ['user_id'], unique=False)
        batch_op.create_index(
            'ix_outbox_pending', ['not_before'], unique=False,
            sqlite_where=sa.text('sent_at IS NULL'), postgresql_where=sa.text('sent_at IS NULL'),
        )
    op.create_table(
        'app_state',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('app_state')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_pending')
        batch_op.drop_index('ix_outbox_user_id')
    op.drop_table('outbox')
    with op.batch_alter_table('sla_clocks', schema=None) as batch_op:
        batch_op.drop_index('ix_sla_clocks_next_alert_at')
        for column in ('next_alert_at', 'alert_point', 'late_seconds', 'outcome', 'remaining_seconds', 'pause_reason', 'paused_since', 'pauses', 'window_seconds'):
            batch_op.drop_column(column)
