"""Sync runs with checkpoints, and the run that last saw each relationship on the host (for reconcile).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sync_run",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("corp_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("stages", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("checkpoint", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["corp_id"], ["corp.id"], name=op.f("fk_sync_run_corp_id_corp"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_run")),
        mysql_charset="utf8mb4", mysql_collate="utf8mb4_bin", mysql_engine="InnoDB",
    )
    with op.batch_alter_table("sync_run") as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_run_corp_id_status"), ["corp_id", "status"], unique=False)
    with op.batch_alter_table("relationship") as batch_op:
        batch_op.add_column(sa.Column("seen_by_sync", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("relationship") as batch_op:
        batch_op.drop_column("seen_by_sync")
    op.drop_table("sync_run")
