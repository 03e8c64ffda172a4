"""parked_drafts: one dialog kept aside per user and kind (an engineer's report as well as a request)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 00:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def _rebuild(primary_key: list[str]) -> None:
    """SQLite cannot change a primary key in place: a new table, the rows copied, the old dropped."""
    op.create_table('parked_drafts_new',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('step', sa.String(length=32), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('parked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint(*primary_key)
    )
    op.execute('INSERT INTO parked_drafts_new (user_id, kind, step, data, parked_at) '
               'SELECT user_id, kind, step, data, parked_at FROM parked_drafts')
    op.drop_table('parked_drafts')
    op.rename_table('parked_drafts_new', 'parked_drafts')


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint('parked_drafts_pkey', 'parked_drafts', type_='primary')
        op.create_primary_key('parked_drafts_pkey', 'parked_drafts', ['user_id', 'kind'])
    else:
        _rebuild(['user_id', 'kind'])


def downgrade() -> None:
    # one per user again: the latest kept aside stays
    op.execute('DELETE FROM parked_drafts WHERE EXISTS (SELECT 1 FROM parked_drafts AS later '
               'WHERE later.user_id = parked_drafts.user_id AND later.parked_at > parked_drafts.parked_at)')
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint('parked_drafts_pkey', 'parked_drafts', type_='primary')
        op.create_primary_key('parked_drafts_pkey', 'parked_drafts', ['user_id'])
    else:
        _rebuild(['user_id'])
