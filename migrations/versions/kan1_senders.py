"""Senders: a commune's phones, SIMs and SMSCs, and the sender each SMS delivery went through

Revision ID: kan1
Revises: pro1
Create Date: 2026-12-01 17:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'kan1'
down_revision = 'pro1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('senders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('provider', sa.String(length=30), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=True),
    sa.Column('sim_number', sa.Integer(), nullable=True),
    sa.Column('smsc_id', sa.String(length=60), nullable=True),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('per_minute', sa.Integer(), nullable=True),
    sa.Column('per_hour', sa.Integer(), nullable=True),
    sa.Column('per_day', sa.Integer(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('health', sa.String(length=20), nullable=False),
    sa.Column('health_reason', sa.String(length=300), nullable=True),
    sa.Column('health_checked_at', sa.DateTime(), nullable=True),
    sa.Column('errors_in_a_row', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['areas.id'], name=op.f('fk_senders_commune_id_areas'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_senders'))
    )
    with op.batch_alter_table('senders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_senders_commune_id'), ['commune_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_senders_number'), ['number'], unique=False)

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sender_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_deliveries_sender_id'), ['sender_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_deliveries_sender_id_senders'), 'senders', ['sender_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_deliveries_sender_id_senders'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_deliveries_sender_id'))
        batch_op.drop_column('sender_id')

    with op.batch_alter_table('senders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_senders_number'))
        batch_op.drop_index(batch_op.f('ix_senders_commune_id'))
    op.drop_table('senders')
