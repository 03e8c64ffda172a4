"""maintenance_reminders.due_day_chased_at: an unbooked maintenance told again on its due date

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 12:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Left empty on existing rows: the sweep chases only due dates from its last scan on, so
    # reminders whose due date passed before this revision are not chased after the fact.
    with op.batch_alter_table('maintenance_reminders') as batch_op:
        batch_op.add_column(sa.Column('due_day_chased_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('maintenance_reminders') as batch_op:
        batch_op.drop_column('due_day_chased_at')
