"""an index on service_requests (product_id, id): a product's earlier repairs for the repeat-repair flag

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 22:10:00
"""
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_service_requests_product', 'service_requests', ['product_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_service_requests_product', table_name='service_requests')
