"""an index on processed_updates.processed_at: the sweep forgets update ids by age without a scan

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 16:30:00
"""
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_processed_updates_processed_at', 'processed_updates', ['processed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_processed_updates_processed_at', table_name='processed_updates')
