"""complaints with notes and links, follow-up calls, maintenance reminders, fault type on reports

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('job_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fault_type', sa.String(length=32), nullable=True))
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'complaints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('about_request_id', sa.Integer(), nullable=True),
        sa.Column('subject', sa.String(length=16), nullable=False),
        sa.Column('engineer_id', sa.Integer(), nullable=True),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('supervisor_id', sa.Integer(), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('service_fault', sa.Boolean(), nullable=True),
        sa.Column('cause_note', sa.Text(), nullable=True),
        sa.Column('corrective_action', sa.Text(), nullable=True),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['about_request_id'], ['service_requests.id']),
        sa.ForeignKeyConstraint(['engineer_id'], ['users.id']),
        sa.ForeignKeyConstraint(['request_id'], ['service_requests.id']),
        sa.ForeignKeyConstraint(['supervisor_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('request_id'),
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index('ix_complaints_about_request_id', ['about_request_id'], unique=False)
        batch_op.create_index('ix_complaints_engineer_id', ['engineer_id'], unique=False)
        batch_op.create_index('ix_complaints_state', ['state'], unique=False)
    op.create_table(
        'complaint_notes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('complaint_id', sa.Integer(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['author_id'], ['users.id']),
        sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('complaint_notes', schema=None) as batch_op:
        batch_op.create_index('ix_complaint_notes_complaint_id', ['complaint_id'], unique=False)
    op.create_table(
        'complaint_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('complaint_id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['request_id'], ['service_requests.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('complaint_id', 'request_id', name='uq_complaint_links_pair'),
    )
    with op.batch_alter_table('complaint_links', schema=None) as batch_op:
        batch_op.create_index('ix_complaint_links_complaint_id', ['complaint_id'], unique=False)
    op.create_table(
        'follow_up_calls',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('due_by', sa.Date(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('caller_id', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.String(length=16), nullable=True),
        sa.Column('feedback', sa.Text(), nullable=True),
        sa.Column('reminded_on', sa.Date(), nullable=True),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['caller_id'], ['users.id']),
        sa.ForeignKeyConstraint(['request_id'], ['service_requests.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('request_id', 'round', name='uq_follow_up_calls_round'),
    )
    with op.batch_alter_table('follow_up_calls', schema=None) as batch_op:
        batch_op.create_index('ix_follow_up_calls_due_on', ['due_on'], unique=False)
        batch_op.create_index('ix_follow_up_calls_request_id', ['request_id'], unique=False)
        batch_op.create_index('ix_follow_up_calls_state', ['state'], unique=False)
    op.create_table(
        'maintenance_reminders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('booked_request_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['booked_request_id'], ['service_requests.id']),
        sa.ForeignKeyConstraint(['product_id'], ['products.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('product_id', 'due_on', name='uq_maintenance_reminders_due'),
    )
    with op.batch_alter_table('maintenance_reminders', schema=None) as batch_op:
        batch_op.create_index('ix_maintenance_reminders_product_id', ['product_id'], unique=False)


def downgrade() -> None:
    op.drop_table('maintenance_reminders')
    op.drop_table('follow_up_calls')
    op.drop_table('complaint_links')
    op.drop_table('complaint_notes')
    op.drop_table('complaints')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
    with op.batch_alter_table('job_reports', schema=None) as batch_op:
        batch_op.drop_column('fault_type')
