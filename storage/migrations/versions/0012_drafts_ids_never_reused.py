"""drafts ids are never reused on SQLite (AUTOINCREMENT), so an abandoned dialog's buttons stay stale

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 19:30:00
"""
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # PostgreSQL sequences never hand out an id twice
        with op.batch_alter_table("drafts", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass  # no column changes: rebuilding the table with AUTOINCREMENT is the change


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("drafts", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
            pass
