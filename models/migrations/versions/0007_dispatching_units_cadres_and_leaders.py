"""dispatching units, cadres and leaders

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-20 09:00:00

Cadres stationed in villages (003 三(一)(二)): org units get a fourth kind, the dispatching unit (派出单位),
with its level and establishment size (编制人数); cadres belong to a unit or a township; leaders contact one
village each (每人包一个村).
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: Union[str, None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('org_units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_level', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('establishment_size', sa.Integer(), nullable=True))
    op.create_table(
        'cadres',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('post', sa.String(length=100), nullable=False),
        sa.Column('phone', sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(['unit_id'], ['org_units.id'], ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_cadres_code'), 'cadres', ['code'], unique=True)
    op.create_index(op.f('ix_cadres_unit_id'), 'cadres', ['unit_id'], unique=False)
    op.create_table(
        'leaders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('level', sa.String(length=16), nullable=False),
        sa.Column('post', sa.String(length=100), nullable=False),
        sa.Column('phone', sa.String(length=20), nullable=True),
        sa.Column('township_id', sa.Integer(), nullable=False),
        sa.Column('village_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['township_id'], ['org_units.id'], ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['village_id'], ['org_units.id'], ondelete='RESTRICT'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_leaders_code'), 'leaders', ['code'], unique=True)
    op.create_index(op.f('ix_leaders_township_id'), 'leaders', ['township_id'], unique=False)
    op.create_index(op.f('ix_leaders_village_id'), 'leaders', ['village_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_leaders_village_id'), table_name='leaders')
    op.drop_index(op.f('ix_leaders_township_id'), table_name='leaders')
    op.drop_index(op.f('ix_leaders_code'), table_name='leaders')
    op.drop_table('leaders')
    op.drop_index(op.f('ix_cadres_unit_id'), table_name='cadres')
    op.drop_index(op.f('ix_cadres_code'), table_name='cadres')
    op.drop_table('cadres')
    op.execute("DELETE FROM org_units WHERE kind = 'unit'")
    with op.batch_alter_table('org_units', schema=None) as batch_op:
        batch_op.drop_column('establishment_size')
        batch_op.drop_column('unit_level')
