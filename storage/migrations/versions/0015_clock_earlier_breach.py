"""sla_clocks.earlier_breach: a repeating (approval) clock remembers that an earlier step was late

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 21:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # existing rows: false (their earlier cycles are not kept; the next event on the request recomputes it)
    op.add_column('sla_clocks', sa.Column('earlier_breach', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    op.drop_column('sla_clocks', 'earlier_breach')
