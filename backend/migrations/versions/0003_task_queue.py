"""task queue: reminder runs and batches, and procrastinate's schema on PostgreSQL

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 01:00:00

procrastinate's tables, types and functions are its own (``procrastinate_*``);
they are created here, once, from the SQL the installed procrastinate ships, so
``domaincheck-backend migrate`` is the one step an operator runs. They are left
out of Alembic's model comparison (``backend.db.is_own_table``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reminder_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("subscribers", sa.Integer(), nullable=False),
        sa.Column("domains", sa.Integer(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_runs")),
    )
    op.create_table(
        "reminder_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("subscriber_ids", sa.Text(), nullable=False),
        sa.Column("names", sa.Integer(), nullable=False),
        sa.Column("reminders_queued", sa.Integer(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reminder_runs.id"],
            name=op.f("fk_reminder_batches_run_id_reminder_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_batches")),
        sa.UniqueConstraint("run_id", "seq", name=op.f("uq_reminder_batches_run_id")),
    )
    op.create_index(
        op.f("ix_reminder_batches_run_id"), "reminder_batches", ["run_id"], unique=False
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from backend.queue_schema import apply_procrastinate_schema

        apply_procrastinate_schema(bind)


def downgrade() -> None:
    op.drop_index(op.f("ix_reminder_batches_run_id"), table_name="reminder_batches")
    op.drop_table("reminder_batches")
    op.drop_table("reminder_runs")
