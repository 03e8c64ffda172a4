"""parked_drafts: one dialog kept aside per user, kind and subject (two jobs' reports, say)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 09:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def _rebuild(primary_key: list[str], *, subject: bool) -> None:
    """SQLite cannot change a primary key in place: a new table, the rows copied, the old dropped."""
    op.create_table('parked_drafts_new',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    *([sa.Column('subject', sa.String(length=32), nullable=False, server_default='')] if subject else []),
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
    # the rows kept so far keep the subject '': each is still found by what its data names
    if op.get_bind().dialect.name == 'postgresql':
        op.add_column('parked_drafts', sa.Column('subject', sa.String(length=32), nullable=False, server_default=''))
        op.drop_constraint('parked_drafts_pkey', 'parked_drafts', type_='primary')
        op.create_primary_key('parked_drafts_pkey', 'parked_drafts', ['user_id', 'kind', 'subject'])
    else:
        _rebuild(['user_id', 'kind', 'subject'], subject=True)


def downgrade() -> None:
    # one per user and kind again: the latest kept aside stays
    op.execute('DELETE FROM parked_drafts WHERE EXISTS (SELECT 1 FROM parked_drafts AS later '
               'WHERE later.user_id = parked_drafts.user_id AND later.kind = parked_drafts.kind '
               'AND (later.parked_at > parked_drafts.parked_at '
               'OR (later.parked_at = parked_drafts.parked_at AND later.subject > parked_drafts.subject)))')
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint('parked_drafts_pkey', 'parked_drafts', type_='primary')
        op.drop_column('parked_drafts', 'subject')
        op.create_primary_key('parked_drafts_pkey', 'parked_drafts', ['user_id', 'kind'])
    else:
        _rebuild(['user_id', 'kind'], subject=False)
