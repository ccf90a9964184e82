"""Initial schema: corps, organisation, customers and relationships, tags, channels, timeline, notes,
group chats and the callback inbox.

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 05:18:38.578365

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('corp',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('corp_key', sa.String(length=32), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('corp_id', sa.String(length=64), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=True),
    sa.Column('app_key', sa.String(length=128), nullable=True),
    sa.Column('secret', sa.Text(), nullable=False),
    sa.Column('callback_token', sa.Text(), nullable=True),
    sa.Column('callback_aes_key', sa.Text(), nullable=True),
    sa.Column('api_base', sa.String(length=255), nullable=True),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_corp')),
    sa.UniqueConstraint('corp_key', name=op.f('uq_corp_corp_key')),
    sa.UniqueConstraint('platform', 'corp_id', name=op.f('uq_corp_platform_corp_id')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    op.create_table('channel',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('corp_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=30), nullable=False),
    sa.Column('config_id', sa.String(length=64), nullable=True),
    sa.Column('qr_url', sa.String(length=512), nullable=True),
    sa.Column('skip_verify', sa.Boolean(), nullable=False),
    sa.Column('remark', sa.String(length=30), nullable=True),
    sa.Column('welcome', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['corp_id'], ['corp.id'], name=op.f('fk_channel_corp_id_corp'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel')),
    sa.UniqueConstraint('corp_id', 'state', name=op.f('uq_channel_corp_id_state')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    op.create_table('customer',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('corp_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('host_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('avatar', sa.String(length=512), nullable=True),
    sa.Column('type', sa.SmallInteger(), nullable=True),
    sa.Column('gender', sa.SmallInteger(), nullable=True),
    sa.Column('unionid', sa.String(length=64), nullable=True),
    sa.Column('corp_name', sa.String(length=128), nullable=True),
    sa.Column('corp_full_name', sa.String(length=255), nullable=True),
    sa.Column('position', sa.String(length=128), nullable=True),
    sa.Column('mobile', sa.String(length=32), nullable=True),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['corp_id'], ['corp.id'], name=op.f('fk_customer_corp_id_corp'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer')),
    sa.UniqueConstraint('corp_id', 'host_id', name=op.f('uq_customer_corp_id_host_id')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_corp_id_name'), ['corp_id', 'name'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_corp_id_stage'), ['corp_id', 'stage'], unique=False)

    op.create_table('department',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('corp_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('host_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('parent_host_id', sa.String(length=64), nullable=True),
    sa.Column('order', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['corp_id'], ['corp.id'], name=op.f('fk_department_corp_id_corp'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department')),
    sa.UniqueConstraint('corp_id', 'host_id', name=op.f('uq_department_corp_id_host_id')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    op.create_table('employee',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('corp_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('host_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('position', sa.String(length=128), nullable=True),
    sa.Column('mobile', sa.String(length=32), nullable=True),
    sa.Column('email', sa.String(length=128), nullable=True),
    sa.Column('avatar', sa.String(length=512), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('departed_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['corp_id'], ['corp.id'], name=op.f('fk_employee_corp_id_corp'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_employee')),
    sa.UniqueConstraint('corp_id', 'host_id', name=op.f('uq_employee_corp_id_host_id')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    with op.batch_alter_table('employee', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_employee_corp_id_status'), ['corp_id', 'status'], unique=False)

    op.create_table('inbox_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('corp_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dedupe_key', sa.String(length=128), nullable=False),
    sa.Column('event_type', sa.String(length=96), nullable=False),
    sa.Column('ordering_key', sa.String(length=128), nullable=True),
    sa.Column('payload', sa.Text().with_variant(mysql.LONGTEXT(), 'mariadb').with_variant(mysql.LONGTEXT(), 'mysql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('processed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['corp_id'], ['corp.id'], name=op.f('fk_inbox_event_corp_id_corp'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_event')),
    sa.UniqueConstraint('corp_id', 'dedupe_key', name=op.f('uq_inbox_event_corp_id_dedupe_key')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    with op.batch_alter_table('inbox_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_event_corp_id_ordering_key_id'), ['corp_id', 'ordering_key', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbox_event_status_received_at'), ['status', 'received_at'], unique=False)

    op.create_table('tag_group',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('corp_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('host_id', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('order', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['corp_id'], ['corp.id'], name=op.f('fk_tag_group_corp_id_corp'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tag_group')),
    sa.UniqueConstraint('corp_id', 'host_id', name=op.f('uq_tag_group_corp_id_host_id')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    op.create_table('channel_member',
    sa.Column('channel_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('employee_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.Column('daily_cap', sa.Integer(), nullable=True),
    sa.Column('is_backup', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channel.id'], name=op.f('fk_channel_member_channel_id_channel'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['employee_id'], ['employee.id'], name=op.f('fk_channel_member_employee_id_employee'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('channel_id', 'employee_id', name=op.f('pk_channel_member')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    op.create_table('employee_department',
    sa.Column('employee_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('department_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('is_leader', sa.Boolean(), nullable=False),
    sa.Column('order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_employee_department_department_id_department'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['employee_id'], ['employee.id'], name=op.f('fk_employee_department_employee_id_employee'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('employee_id', 'department_id', name=op.f('pk_employee_department')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    with op.batch_alter_table('employee_department', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_employee_department_department_id'), ['department_id'], unique=False)

    op.create_table('group_chat',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('corp_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('host_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('notice', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('member_version', sa.String(length=64), nullable=True),
    sa.Column('host_created_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['corp_id'], ['corp.id'], name=op.f('fk_group_chat_corp_id_corp'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['employee.id'], name=op.f('fk_group_chat_owner_id_employee'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_chat')),
    sa.UniqueConstraint('corp_id', 'host_id', name=op.f('uq_group_chat_corp_id_host_id')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    op.create_table('note',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('corp_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('author_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['employee.id'], name=op.f('fk_note_author_id_employee'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['corp_id'], ['corp.id'], name=op.f('fk_note_corp_id_corp'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_note_customer_id_customer'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_note')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    with op.batch_alter_table('note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_note_customer_id_created_at'), ['customer_id', 'created_at'], unique=False)

    op.create_table('relationship',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('corp_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('employee_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('remark', sa.String(length=64), nullable=True),
    sa.Column('description', sa.String(length=255), nullable=True),
    sa.Column('remark_mobiles', sa.JSON(), nullable=False),
    sa.Column('add_way', sa.SmallInteger(), nullable=True),
    sa.Column('oper_user_id', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=64), nullable=True),
    sa.Column('channel_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('end_reason', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channel.id'], name=op.f('fk_relationship_channel_id_channel'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['corp_id'], ['corp.id'], name=op.f('fk_relationship_corp_id_corp'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_relationship_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['employee_id'], ['employee.id'], name=op.f('fk_relationship_employee_id_employee'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relationship')),
    sa.UniqueConstraint('corp_id', 'employee_id', 'customer_id', name=op.f('uq_relationship_corp_id_employee_id_customer_id')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    with op.batch_alter_table('relationship', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relationship_channel_id_started_at'), ['channel_id', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_relationship_corp_id_status_started_at'), ['corp_id', 'status', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_relationship_customer_id_status'), ['customer_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_relationship_employee_id_status'), ['employee_id', 'status'], unique=False)

    op.create_table('tag',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('corp_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('group_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('host_id', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('order', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['corp_id'], ['corp.id'], name=op.f('fk_tag_corp_id_corp'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['tag_group.id'], name=op.f('fk_tag_group_id_tag_group'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tag')),
    sa.UniqueConstraint('corp_id', 'host_id', name=op.f('uq_tag_corp_id_host_id')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    with op.batch_alter_table('tag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tag_group_id'), ['group_id'], unique=False)

    op.create_table('group_member',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('group_chat_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_host_id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.SmallInteger(), nullable=False),
    sa.Column('employee_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('nickname', sa.String(length=128), nullable=True),
    sa.Column('join_time', sa.DateTime(), nullable=True),
    sa.Column('join_scene', sa.SmallInteger(), nullable=True),
    sa.Column('invitor', sa.String(length=64), nullable=True),
    sa.Column('left_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_group_member_customer_id_customer'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['employee_id'], ['employee.id'], name=op.f('fk_group_member_employee_id_employee'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['group_chat_id'], ['group_chat.id'], name=op.f('fk_group_member_group_chat_id_group_chat'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_member')),
    sa.UniqueConstraint('group_chat_id', 'member_host_id', name=op.f('uq_group_member_group_chat_id_member_host_id')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    with op.batch_alter_table('group_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_member_customer_id'), ['customer_id'], unique=False)

    op.create_table('relationship_tag',
    sa.Column('relationship_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tag_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['relationship_id'], ['relationship.id'], name=op.f('fk_relationship_tag_relationship_id_relationship'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tag.id'], name=op.f('fk_relationship_tag_tag_id_tag'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('relationship_id', 'tag_id', name=op.f('pk_relationship_tag')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    with op.batch_alter_table('relationship_tag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_relationship_tag_tag_id_relationship_id'), ['tag_id', 'relationship_id'], unique=False)

    op.create_table('timeline_entry',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('corp_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('employee_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('relationship_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=160), nullable=True),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['corp_id'], ['corp.id'], name=op.f('fk_timeline_entry_corp_id_corp'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], name=op.f('fk_timeline_entry_customer_id_customer'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['employee_id'], ['employee.id'], name=op.f('fk_timeline_entry_employee_id_employee'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['relationship_id'], ['relationship.id'], name=op.f('fk_timeline_entry_relationship_id_relationship'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timeline_entry')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_timeline_entry_dedupe_key')),
    mysql_charset='utf8mb4',
    mysql_collate='utf8mb4_bin',
    mysql_engine='InnoDB'
    )
    with op.batch_alter_table('timeline_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timeline_entry_customer_id_occurred_at'), ['customer_id', 'occurred_at'], unique=False)



def downgrade():
    # Dropping a table drops its indexes; dropping them first fails on MySQL (an FK still needs them).
    op.drop_table('timeline_entry')
    op.drop_table('relationship_tag')
    op.drop_table('group_member')
    op.drop_table('tag')
    op.drop_table('relationship')
    op.drop_table('note')
    op.drop_table('group_chat')
    op.drop_table('employee_department')
    op.drop_table('channel_member')
    op.drop_table('tag_group')
    op.drop_table('inbox_event')
    op.drop_table('employee')
    op.drop_table('department')
    op.drop_table('customer')
    op.drop_table('channel')
    op.drop_table('corp')
