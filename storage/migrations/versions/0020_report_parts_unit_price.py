"""report_parts.unit_price: the catalog price of a used part when its report was written

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Left empty on existing rows: nobody knows what those parts cost at the time, and the
    # statistics fall back to the current price for them, as they did before.
    with op.batch_alter_table('report_parts') as batch_op:
        batch_op.add_column(sa.Column('unit_price', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('report_parts') as batch_op:
        batch_op.drop_column('unit_price')
