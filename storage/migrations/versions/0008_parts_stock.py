"""spare parts and stock: prices and safety levels, warehouses, stock per warehouse, the stock ledger, requisitions

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('parts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('price', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('safety_level', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('below_safety', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('parts', schema=None) as batch_op:
        # The server default only filled the existing rows; the model gives the value from now on.
        batch_op.alter_column('below_safety', server_default=None)

    op.create_table(
        'warehouses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
    )
    op.create_table(
        'part_stock',
        sa.Column('part_id', sa.Integer(), nullable=False),
        sa.Column('warehouse_id', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.CheckConstraint('quantity >= 0', name='ck_part_stock_quantity_not_negative'),
        sa.ForeignKeyConstraint(['part_id'], ['parts.id']),
        sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id']),
        sa.PrimaryKeyConstraint('part_id', 'warehouse_id'),
    )
    op.create_table(
        'part_requisitions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=False),
        sa.Column('engineer_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('warehouse_id', sa.Integer(), nullable=True),
        sa.Column('issued_by_user_id', sa.Integer(), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['engineer_id'], ['users.id']),
        sa.ForeignKeyConstraint(['issued_by_user_id'], ['users.id']),
        sa.ForeignKeyConstraint(['request_id'], ['service_requests.id']),
        sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('part_requisitions', schema=None) as batch_op:
        batch_op.create_index('ix_part_requisitions_engineer_id', ['engineer_id'], unique=False)
        batch_op.create_index('ix_part_requisitions_request_id', ['request_id'], unique=False)
        batch_op.create_index('ix_part_requisitions_status', ['status'], unique=False)
    op.create_table(
        'part_requisition_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('requisition_id', sa.Integer(), nullable=False),
        sa.Column('part_id', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.CheckConstraint('quantity > 0', name='ck_part_requisition_lines_quantity_positive'),
        sa.ForeignKeyConstraint(['part_id'], ['parts.id']),
        sa.ForeignKeyConstraint(['requisition_id'], ['part_requisitions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('part_requisition_lines', schema=None) as batch_op:
        batch_op.create_index('ix_part_requisition_lines_requisition_id', ['requisition_id'], unique=False)
    op.create_table(
        'stock_ledger',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('part_id', sa.Integer(), nullable=False),
        sa.Column('warehouse_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('change', sa.Integer(), nullable=False),
        sa.Column('quantity_after', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.Column('request_id', sa.Integer(), nullable=True),
        sa.Column('requisition_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['part_id'], ['parts.id']),
        sa.ForeignKeyConstraint(['request_id'], ['service_requests.id']),
        sa.ForeignKeyConstraint(['requisition_id'], ['part_requisitions.id']),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('stock_ledger', schema=None) as batch_op:
        batch_op.create_index('ix_stock_ledger_part_id', ['part_id'], unique=False)
        batch_op.create_index('ix_stock_ledger_request_id', ['request_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('stock_ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_stock_ledger_request_id')
        batch_op.drop_index('ix_stock_ledger_part_id')
    op.drop_table('stock_ledger')
    with op.batch_alter_table('part_requisition_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_part_requisition_lines_requisition_id')
    op.drop_table('part_requisition_lines')
    with op.batch_alter_table('part_requisitions', schema=None) as batch_op:
        batch_op.drop_index('ix_part_requisitions_status')
        batch_op.drop_index('ix_part_requisitions_request_id')
        batch_op.drop_index('ix_part_requisitions_engineer_id')
    op.drop_table('part_requisitions')
    op.drop_table('part_stock')
    op.drop_table('warehouses')
    with op.batch_alter_table('parts', schema=None) as batch_op:
        for column in ('below_safety', 'safety_level', 'price'):
            batch_op.drop_column(column)
