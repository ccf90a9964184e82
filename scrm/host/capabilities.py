"""What a host platform can do: each port method, and the features a method's name does not tell."""
from __future__ import annotations

from enum import StrEnum


class Capability(StrEnum):
    # address book
    LIST_DEPARTMENTS = "list_departments"
    LIST_EMPLOYEES = "list_employees"
    GET_EMPLOYEE = "get_employee"
    # customers and relationships
    LIST_CUSTOMER_IDS = "list_customer_ids"
    LIST_CUSTOMERS = "list_customers"
    GET_CUSTOMER = "get_customer"
    SET_REMARK = "set_remark"
    CREATE_CUSTOMER = "create_customer"
    # tags
    LIST_TAG_GROUPS = "list_tag_groups"
    CREATE_TAGS = "create_tags"
    EDIT_TAG = "edit_tag"
    DELETE_TAGS = "delete_tags"
    MARK_TAGS = "mark_tags"
    # channel codes and welcome
    CREATE_CHANNEL_CODE = "create_channel_code"
    UPDATE_CHANNEL_CODE = "update_channel_code"
    DELETE_CHANNEL_CODE = "delete_channel_code"
    SEND_WELCOME = "send_welcome"
    FETCH_CHANNEL_QR = "fetch_channel_qr"
    UPLOAD_IMAGE = "upload_image"
    # transfers
    TRANSFER_CUSTOMERS = "transfer_customers"
    TRANSFER_RESULTS = "transfer_results"
    LIST_UNASSIGNED = "list_unassigned"
    # group chats
    LIST_GROUP_CHATS = "list_group_chats"
    GET_GROUP_CHAT = "get_group_chat"
    TRANSFER_GROUP_CHATS = "transfer_group_chats"
    # mass messages
    CREATE_MASS_MESSAGE = "create_mass_message"
    LIST_MASS_MESSAGES = "list_mass_messages"
    MASS_MESSAGE_TASKS = "mass_message_tasks"
    MASS_MESSAGE_RESULTS = "mass_message_results"
    # employees' app messages, H5
    SEND_APP_MESSAGE = "send_app_message"
    JSAPI_CONFIG = "jsapi_config"
    OAUTH_URL = "oauth_url"
    RESOLVE_LOGIN = "resolve_login"
    WEB_LOGIN = "web_login"  # a scan-to-login page for browsers outside the host app

    # features beyond the method names
    CUSTOMER_CALLBACKS = "customer_callbacks"  # the host calls back on adds and removals of customers
    WELCOME_CODE = "welcome_code"  # an add event carries a code for one welcome message
    AGENT_CONFIG = "agent_config"  # the JS-SDK's app-level signature
    DEPARTED_TRANSFER = "departed_transfer"  # customers of departed members can be handed over
    GROUP_CHAT_TRANSFER = "group_chat_transfer"
    CUSTOMERS_BY_EMPLOYEE = "customers_by_employee"  # list_customers reads only the given employees' customers
    CUSTOMER_NEEDS_TAG = "customer_needs_tag"  # create_customer needs at least one of the host's tags (DingTalk)
