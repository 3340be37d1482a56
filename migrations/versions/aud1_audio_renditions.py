"""audio renditions: how an asset is rendered, its source recording, the phone rendition's measurements

Revision ID: aud1
Revises: 0001
Create Date: 2026-11-22 07:59:10.985812
"""
from alembic import op
import sqlalchemy as sa


revision = 'aud1'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audio_assets', schema=None) as batch_op:
        # Rows from before get an empty dict; the default is then dropped (the model supplies it).
        batch_op.add_column(sa.Column('options', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('source_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('original_name', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('phone_bytes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('phone_loudness_lufs', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('phone_true_peak_dbtp', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('rendered_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key('fk_audio_assets_source_id_audio_assets', 'audio_assets', ['source_id'], ['id'],
                                    ondelete='SET NULL')
    with op.batch_alter_table('audio_assets', schema=None) as batch_op:
        batch_op.alter_column('options', server_default=None)


def downgrade():
    with op.batch_alter_table('audio_assets', schema=None) as batch_op:
        batch_op.drop_constraint('fk_audio_assets_source_id_audio_assets', type_='foreignkey')
        batch_op.drop_column('rendered_at')
        batch_op.drop_column('phone_true_peak_dbtp')
        batch_op.drop_column('phone_loudness_lufs')
        batch_op.drop_column('phone_bytes')
        batch_op.drop_column('original_name')
        batch_op.drop_column('source_id')
        batch_op.drop_column('options')
