"""an index on user_roles.role: finding the people with a role (dispatchers) without a scan

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 19:00:00
"""
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_user_roles_role', 'user_roles', ['role', 'user_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_user_roles_role', table_name='user_roles')
