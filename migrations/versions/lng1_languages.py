"""languages: a household's language; an announcement's recording per extra language

Revision ID: lng1
Revises: pol1
Create Date: 2026-12-01 21:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'lng1'
down_revision = 'pol1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), server_default='vi', nullable=False))

    op.create_table(
        'announcement_languages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('announcement_id', sa.Integer(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('recording_id', sa.Integer(), nullable=True),
        sa.Column('audio_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['announcement_id'], ['announcements.id'],
                                name=op.f('fk_announcement_languages_announcement_id_announcements'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['audio_id'], ['audio_assets.id'],
                                name=op.f('fk_announcement_languages_audio_id_audio_assets'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['recording_id'], ['audio_assets.id'],
                                name=op.f('fk_announcement_languages_recording_id_audio_assets'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_announcement_languages')),
        sa.UniqueConstraint('announcement_id', 'language', name='uq_announcement_languages_language'),
    )
    with op.batch_alter_table('announcement_languages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_announcement_languages_announcement_id'), ['announcement_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('announcement_languages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_announcement_languages_announcement_id'))
    op.drop_table('announcement_languages')
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_column('language')
