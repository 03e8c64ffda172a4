"""dispatch and assignments

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 08:16:58.103838
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('engineer_id', sa.Integer(), nullable=False),
    sa.Column('assigned_by_user_id', sa.Integer(), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['assigned_by_user_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['engineer_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['request_id'], ['service_requests.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignments_engineer_id'), ['engineer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_request_id'), ['request_id'], unique=False)

    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.String(length=16), nullable=False, server_default='normal'))
        batch_op.add_column(sa.Column('distance_band', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('warranty', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('warranty_reason', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_service_requests_assigned_engineer_id'), ['assigned_engineer_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_assigned_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('last_assigned_at')

    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_requests_assigned_engineer_id'))
        batch_op.drop_column('warranty_reason')
        batch_op.drop_column('warranty')
        batch_op.drop_column('distance_band')
        batch_op.drop_column('priority')

    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignments_request_id'))
        batch_op.drop_index(batch_op.f('ix_assignments_engineer_id'))

    op.drop_table('assignments')
