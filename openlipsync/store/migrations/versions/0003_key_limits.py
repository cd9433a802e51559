"""Per-key limit overrides, request counters for installations without Redis, and the time an
upload was last checked in an object store after its presigned URL expired.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('limits', sa.Text(), nullable=True))
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checked_at', sa.Float(), nullable=True))
    op.create_table('rate_windows',
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('window', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key_id', 'window')
    )


def downgrade() -> None:
    op.drop_table('rate_windows')
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.drop_column('checked_at')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('limits')
