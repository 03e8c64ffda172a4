"""job_reports: a disputed report is kept (superseded_at); one current report per request

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

# The unique key on request_id was created unnamed: PostgreSQL named it, SQLite did not (the batch
# rebuild names it by this convention so it can be dropped).
UNNAMED_UNIQUE = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
CURRENT = "superseded_at IS NULL"


def _one_per_request_name() -> str:
    return 'job_reports_request_id_key' if op.get_bind().dialect.name == 'postgresql' else 'uq_job_reports_request_id'


def upgrade() -> None:
    name = _one_per_request_name()
    with op.batch_alter_table('job_reports', schema=None, naming_convention=UNNAMED_UNIQUE) as batch_op:
        batch_op.add_column(sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(name, type_='unique')
        batch_op.create_index('ix_job_reports_request_id', ['request_id'], unique=False)
        batch_op.create_index('uq_job_reports_current', ['request_id'], unique=True,
                              sqlite_where=sa.text(CURRENT), postgresql_where=sa.text(CURRENT))
    # a report disputed before this revision waits for the repeat repair's report: kept, superseded
    op.execute("UPDATE job_reports SET superseded_at = COALESCE(confirmed_at, updated_at) WHERE outcome = 'disputed'")


def downgrade() -> None:
    # one report per request again: the latest stays (the old schema overwrote it with each attempt)
    earlier = 'EXISTS (SELECT 1 FROM job_reports AS later WHERE later.request_id = {table}.request_id AND later.id > {table}.id)'
    op.execute(f'DELETE FROM report_parts WHERE report_id IN (SELECT id FROM job_reports AS kept WHERE {earlier.format(table="kept")})')
    op.execute(f'DELETE FROM job_reports WHERE {earlier.format(table="job_reports")}')
    with op.batch_alter_table('job_reports', schema=None) as batch_op:
        batch_op.drop_index('uq_job_reports_current')
        batch_op.drop_index('ix_job_reports_request_id')
        batch_op.create_unique_constraint(_one_per_request_name(), ['request_id'])
        batch_op.drop_column('superseded_at')
