"""sanitized flags on inbound messages and reports; a voice report's recording URL of any length

Revision ID: har1
Revises: kan1
Create Date: 2026-12-01 17:40:45
"""
from alembic import op
import sqlalchemy as sa


revision = 'har1'
down_revision = 'kan1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sanitized', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sanitized', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.alter_column('recording_url', existing_type=sa.VARCHAR(length=500), type_=sa.Text(),
                              existing_nullable=True)


def downgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.alter_column('recording_url', existing_type=sa.Text(), type_=sa.VARCHAR(length=500),
                              existing_nullable=True)
        batch_op.drop_column('sanitized')

    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_column('sanitized')
