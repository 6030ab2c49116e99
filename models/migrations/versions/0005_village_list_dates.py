"""the approved weak-village list: when each village came on it and left it

Revision ID: 0005
Revises: 0003
Create Date: 2027-01-05 09:00:00

A rectification record (the approved list is the campaign's records that are not removed) carries the day
its village was listed and the day the county took it off the list.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('village_rectifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('listed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('removed_on', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('village_rectifications', schema=None) as batch_op:
        batch_op.drop_column('removed_on')
        batch_op.drop_column('listed_on')
