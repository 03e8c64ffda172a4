"""one pending claim per product and customer

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 09:40:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('product_claims', schema=None) as batch_op:
        batch_op.create_index(
            'uq_product_claims_pending', ['product_id', 'customer_id'], unique=True,
            sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"),
        )


def downgrade() -> None:
    with op.batch_alter_table('product_claims', schema=None) as batch_op:
        batch_op.drop_index('uq_product_claims_pending')
