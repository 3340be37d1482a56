"""reliability: broadcast chunks, planned_at, inbound reply

Revision ID: rel1
Revises: are1
Create Date: 2026-12-01 17:41:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'rel1'
down_revision = 'are1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('broadcast_chunks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('announcement_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('first_id', sa.Integer(), nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('requeued', sa.Integer(), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['announcement_id'], ['announcements.id'], name=op.f('fk_broadcast_chunks_announcement_id_announcements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcast_chunks')),
    sa.UniqueConstraint('announcement_id', 'kind', 'first_id', name='uq_broadcast_chunks_step')
    )
    with op.batch_alter_table('broadcast_chunks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_broadcast_chunks_status'), ['status'], unique=False)

    with op.batch_alter_table('announcements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('planned_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply', sa.Text(), nullable=True))



def downgrade():
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_column('reply')

    with op.batch_alter_table('announcements', schema=None) as batch_op:
        batch_op.drop_column('planned_at')

    with op.batch_alter_table('broadcast_chunks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_broadcast_chunks_status'))

    op.drop_table('broadcast_chunks')
