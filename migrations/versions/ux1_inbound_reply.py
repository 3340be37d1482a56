"""What the gateway answered an inbound SMS, for the report's thread

Revision ID: ux1
Revises: are1
Create Date: 2026-12-01 18:10:28.547369
"""
from alembic import op
import sqlalchemy as sa


revision = 'ux1'
down_revision = 'are1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_column('reply')
