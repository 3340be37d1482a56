"""policy_versions: one number per cache the webhooks answer from, raised when what it holds changes

Revision ID: prf1
Revises: plt1
Create Date: 2026-12-01 21:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'prf1'
down_revision = 'plt1'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'policy_versions',
        sa.Column('name', sa.String(length=30), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    op.bulk_insert(table, [{'name': 'announcements', 'value': 0}])


def downgrade():
    op.drop_table('policy_versions')
