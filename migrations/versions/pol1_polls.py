"""Polls: questions residents answer by key or SMS, their answers and the answer log

Revision ID: pol1
Revises: prf1
Create Date: 2026-12-01 21:28:48.673860
"""
from alembic import op
import sqlalchemy as sa


revision = 'pol1'
down_revision = 'prf1'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('polls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('audiences', sa.JSON(), nullable=False),
    sa.Column('opens_at', sa.DateTime(), nullable=False),
    sa.Column('closes_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('announcement_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('summary_posted_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['announcement_id'], ['announcements.id'], name=op.f('fk_polls_announcement_id_announcements'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['officials.id'], name=op.f('fk_polls_created_by_id_officials'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_polls'))
    )
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_polls_announcement_id'), ['announcement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_polls_closes_at'), ['closes_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_polls_status'), ['status'], unique=False)

    op.create_table('poll_answer_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=True),
    sa.Column('choice', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_answer_events_poll_id_polls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_poll_answer_events_resident_id_residents'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_poll_answer_events'))
    )
    with op.batch_alter_table('poll_answer_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_poll_answer_events_poll_id'), ['poll_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_poll_answer_events_resident_id'), ['resident_id'], unique=False)

    op.create_table('poll_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('resident_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.Column('choice', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('changes', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_poll_answers_area_id_areas'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_answers_poll_id_polls'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resident_id'], ['residents.id'], name=op.f('fk_poll_answers_resident_id_residents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_poll_answers')),
    sa.UniqueConstraint('poll_id', 'resident_id', name='uq_poll_answers_poll_resident')
    )
    with op.batch_alter_table('poll_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_poll_answers_area_id'), ['area_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_poll_answers_resident_id'), ['resident_id'], unique=False)

    op.create_table('poll_areas',
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['area_id'], ['areas.id'], name=op.f('fk_poll_areas_area_id_areas'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_poll_areas_poll_id_polls'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('poll_id', 'area_id', name=op.f('pk_poll_areas'))
    )
    with op.batch_alter_table('poll_areas', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_poll_areas_area_id'), ['area_id'], unique=False)



def downgrade():
    with op.batch_alter_table('poll_areas', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_poll_areas_area_id'))

    op.drop_table('poll_areas')
    with op.batch_alter_table('poll_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_poll_answers_resident_id'))
        batch_op.drop_index(batch_op.f('ix_poll_answers_area_id'))

    op.drop_table('poll_answers')
    with op.batch_alter_table('poll_answer_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_poll_answer_events_resident_id'))
        batch_op.drop_index(batch_op.f('ix_poll_answer_events_poll_id'))

    op.drop_table('poll_answer_events')
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_polls_status'))
        batch_op.drop_index(batch_op.f('ix_polls_closes_at'))
        batch_op.drop_index(batch_op.f('ix_polls_announcement_id'))

    op.drop_table('polls')
