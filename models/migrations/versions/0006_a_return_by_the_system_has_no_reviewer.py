"""a return by the system has no reviewer

Revision ID: 0006
Revises: 0003
Create Date: 2027-01-15 09:00:00

A report with a hollow section is sent back to its township by the system (the hollow-report trigger), so a
review row may have no reviewer: ``reviews.reviewer_id`` becomes nullable.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.alter_column('reviewer_id', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM reviews WHERE reviewer_id IS NULL")
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.alter_column('reviewer_id', existing_type=sa.Integer(), nullable=False)
