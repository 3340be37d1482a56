"""The areas each audio asset belongs to, so recordings are served only to officials in scope;
residents listed by name at province size.

Revision ID: pro1
Revises: rel1
Create Date: 2026-12-01 17:40:17.498418
"""
from alembic import op
import sqlalchemy as sa


revision = 'pro1'
down_revision = 'rel1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audio_asset_areas',
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_audio_asset_areas_area_id_areas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['asset_id'], ['audio_assets.id'], name=op.f('fk_audio_asset_areas_asset_id_audio_assets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('asset_id', 'area_id', name=op.f('pk_audio_asset_areas'))
    )
    with op.batch_alter_table('audio_asset_areas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audio_asset_areas_area_id'), ['area_id'], unique=False)
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.create_index('ix_residents_name_id', ['name', 'id'], unique=False)



def downgrade():
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_index('ix_residents_name_id')
    with op.batch_alter_table('audio_asset_areas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audio_asset_areas_area_id'))

    op.drop_table('audio_asset_areas')
