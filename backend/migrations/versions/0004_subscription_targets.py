"""subscriptions: protocol, per-domain threshold, manual registration date, last registration

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 01:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("protocol", sa.String(length=20), server_default="tls", nullable=False)
        )
        batch_op.add_column(sa.Column("threshold_days", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("registration_expires", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("last_registration", sa.Text(), nullable=True))
        batch_op.drop_constraint("uq_subscriptions_subscriber_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_subscriptions_subscriber_id", ["subscriber_id", "protocol", "host", "port"]
        )


def downgrade() -> None:
    # Older code knows only direct TLS: other protocols cannot be kept.
    op.execute("DELETE FROM subscriptions WHERE protocol <> 'tls'")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_constraint("uq_subscriptions_subscriber_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_subscriptions_subscriber_id", ["subscriber_id", "host", "port"]
        )
        batch_op.drop_column("last_registration")
        batch_op.drop_column("registration_expires")
        batch_op.drop_column("threshold_days")
        batch_op.drop_column("protocol")
