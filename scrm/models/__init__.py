"""Tables of the product, typed SQLAlchemy 2.x models. They never commit: services do, through `scrm.db`."""
from scrm.models.activity import GroupNote, Note, TimelineEntry
from scrm.models.api_token import ROLES, ApiToken
from scrm.models.base import Base, utcnow
from scrm.models.channel import (ALLOCATIONS, CHANNEL_STATUSES, WELCOME_MODES, Channel, ChannelCost,
                                  ChannelMember, ChannelTag, Media, WelcomeDelivery)
from scrm.models.corp import PLATFORMS, Corp
from scrm.models.customer import RELATIONSHIP_STATUSES, Customer, Relationship
from scrm.models.followup import FOLLOWUP_STATUSES, Followup
from scrm.models.group_chat import GroupChat, GroupMember
from scrm.models.handover import (ASKED_STATES, FINAL_STATES, HANDOVER_KINDS, OPEN_STATES, LINE_STATES, POOL_REASONS, DomainEvent,
                                   Handover, HandoverLine, HandoverStep, PoolEntry)
from scrm.models.inbox import INBOX_STATUSES, InboxEvent
from scrm.models.org import Department, Employee, EmployeeDepartment
from scrm.models.quick_reply import QUICK_REPLY_TYPES, QuickReply, QuickReplyGroup
from scrm.models.stage import DEFAULT_STAGES, StageChange
from scrm.models.sync import SyncRun
from scrm.models.tag import RelationshipTag, Tag, TagGroup
from scrm.models.web_user import WebUser

__all__ = [
    "Base", "utcnow", "Corp", "PLATFORMS", "Department", "Employee", "EmployeeDepartment", "Customer",
    "Relationship", "RELATIONSHIP_STATUSES", "TagGroup", "Tag", "RelationshipTag", "Channel", "ChannelMember",
    "ChannelTag", "ChannelCost", "WelcomeDelivery", "Media", "ALLOCATIONS", "CHANNEL_STATUSES", "WELCOME_MODES",
    "TimelineEntry", "Note", "GroupNote", "GroupChat", "GroupMember", "InboxEvent", "INBOX_STATUSES", "SyncRun", "StageChange", "DEFAULT_STAGES", "ApiToken", "ROLES",
    "Followup", "FOLLOWUP_STATUSES", "Handover", "HandoverLine", "HandoverStep", "PoolEntry", "DomainEvent",
    "HANDOVER_KINDS", "LINE_STATES", "FINAL_STATES", "ASKED_STATES", "OPEN_STATES", "POOL_REASONS", "QuickReply", "QuickReplyGroup",
    "QUICK_REPLY_TYPES", "WebUser",
]
