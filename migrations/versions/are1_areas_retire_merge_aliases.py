"""areas: retired and merged areas, and the old names and codes they are still known by

Revision ID: are1
Revises: lsp1
Create Date: 2026-12-01 17:40:05
"""
from alembic import op
import sqlalchemy as sa


revision = 'are1'
down_revision = 'lsp1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'area_aliases',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('area_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('key', sa.String(length=120), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_area_aliases_area_id_areas'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_area_aliases')),
        sa.UniqueConstraint('area_id', 'key', name='uq_area_aliases_area_key'),
    )
    with op.batch_alter_table('area_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_area_aliases_area_id'), ['area_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_area_aliases_key'), ['key'], unique=False)

    with op.batch_alter_table('areas', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('merged_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_areas_merged_into_id_areas'), 'areas', ['merged_into_id'], ['id'],
                                    ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('areas', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_areas_merged_into_id_areas'), type_='foreignkey')
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('merged_at')
        batch_op.drop_column('retired_at')

    with op.batch_alter_table('area_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_area_aliases_key'))
        batch_op.drop_index(batch_op.f('ix_area_aliases_area_id'))

    op.drop_table('area_aliases')
