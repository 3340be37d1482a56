"""officials' group-platform accounts in one table (official, platform, user id) instead of a column per platform

Revision ID: plt1
Revises: har1
Create Date: 2026-12-01 21:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'plt1'
down_revision = 'har1'
branch_labels = None
depends_on = None

COLUMNS = (("telegram", "telegram_user_id", 40), ("zalo", "zalo_user_id", 80))


def upgrade():
    accounts = op.create_table(
        'official_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('official_id', sa.Integer(), nullable=False),
        sa.Column('platform', sa.String(length=20), nullable=False),
        sa.Column('user_id', sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(['official_id'], ['officials.id'],
                                name=op.f('fk_official_accounts_official_id_officials'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_official_accounts')),
        sa.UniqueConstraint('official_id', 'platform', name='uq_official_accounts_official_platform'),
        sa.UniqueConstraint('platform', 'user_id', name='uq_official_accounts_platform_user'),
    )
    with op.batch_alter_table('official_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_official_accounts_official_id'), ['official_id'], unique=False)

    officials = sa.table('officials', sa.column('id', sa.Integer()),
                         *(sa.column(column, sa.String()) for _, column, _ in COLUMNS))
    bind = op.get_bind()
    for platform, column, _ in COLUMNS:
        rows = bind.execute(sa.select(officials.c.id, officials.c[column]).where(officials.c[column].isnot(None))
                            .where(officials.c[column] != '')).all()
        if rows:
            op.bulk_insert(accounts, [{"official_id": id_, "platform": platform, "user_id": user_id}
                                      for id_, user_id in rows])

    with op.batch_alter_table('officials', schema=None) as batch_op:
        for _, column, _ in COLUMNS:
            batch_op.drop_constraint(f'uq_officials_{column}', type_='unique')
            batch_op.drop_column(column)


def downgrade():
    with op.batch_alter_table('officials', schema=None) as batch_op:
        for _, column, length in COLUMNS:
            batch_op.add_column(sa.Column(column, sa.String(length=length), nullable=True))
            batch_op.create_unique_constraint(f'uq_officials_{column}', [column])

    officials = sa.table('officials', sa.column('id', sa.Integer()),
                         *(sa.column(column, sa.String()) for _, column, _ in COLUMNS))
    accounts = sa.table('official_accounts', sa.column('official_id', sa.Integer()), sa.column('platform', sa.String()),
                        sa.column('user_id', sa.String()))
    bind = op.get_bind()
    for platform, column, length in COLUMNS:
        rows = bind.execute(sa.select(accounts.c.official_id, accounts.c.user_id)
                            .where(accounts.c.platform == platform)).all()
        for official_id, user_id in rows:
            # a longer id than the old column held cannot go back; it is left out rather than cut
            if len(user_id) <= length:
                bind.execute(officials.update().where(officials.c.id == official_id).values({column: user_id}))

    with op.batch_alter_table('official_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_official_accounts_official_id'))
    op.drop_table('official_accounts')
