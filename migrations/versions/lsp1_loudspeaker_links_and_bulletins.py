"""loudspeaker operators: per-operator token links and daily bulletins

Revision ID: lsp1
Revises: aud1
Create Date: 2026-11-25 12:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'lsp1'
down_revision = 'aud1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'operator_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('area_id', sa.Integer(), nullable=False),
        sa.Column('label', sa.String(length=120), nullable=False),
        sa.Column('official_id', sa.Integer(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.Column('last_used_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_operator_links_area_id_areas'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['official_id'], ['officials.id'], name=op.f('fk_operator_links_official_id_officials'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_operator_links')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_operator_links_token_hash')),
    )
    with op.batch_alter_table('operator_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_operator_links_area_id'), ['area_id'], unique=False)
    op.create_table(
        'bulletins',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('area_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('announcement_ids', sa.JSON(), nullable=False),
        sa.Column('asset_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_bulletins_area_id_areas'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['asset_id'], ['audio_assets.id'], name=op.f('fk_bulletins_asset_id_audio_assets'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bulletins')),
        sa.UniqueConstraint('area_id', 'day', name=op.f('uq_bulletins_area_id')),
    )


def downgrade():
    op.drop_table('bulletins')
    with op.batch_alter_table('operator_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_operator_links_area_id'))
    op.drop_table('operator_links')
