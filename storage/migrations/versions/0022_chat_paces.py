"""chat_paces: each person's last notification, so every process keeps the pace per chat

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 17:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Starts empty: a notification sent before this revision is more than a second old by the
    # time any process reads it.
    op.create_table(
        'chat_paces',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('notified_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id'),
    )


def downgrade() -> None:
    op.drop_table('chat_paces')
