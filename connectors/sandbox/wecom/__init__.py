"""The WeCom half of the sandbox, mounted at /wecom: `bp`, its tables (prefix sbx_wc_) and the API handlers.

`/wecom/cgi-bin/<api>` answers like `https://qyapi.weixin.qq.com/cgi-bin/<api>`: same JSON shapes, same errcodes
(doc 90455), HTTP 200 even on errors. Each handler module registers its APIs by path in `base.API`.
"""
from connectors.sandbox.wecom.base import API, ERRMSG, WeComError, bp, settle_transfers
from connectors.sandbox.wecom.contacts import delete_tags
from connectors.sandbox.wecom.h5 import issue_oauth_code
from connectors.sandbox.wecom.models import (LEFT, AppMessage, ContactWay, Customer, Department, Follow, GroupChat,
                                             GroupMember, MassMessage, MassTarget, Media, OAuthCode, Tag, TagGroup,
                                             Token, Transfer, User, WelcomeCode, new_id)
from connectors.sandbox.wecom import transfers as _transfers  # noqa: F401  (registers its handlers)
from connectors.sandbox.wecom.ways import issue_welcome_code

__all__ = ["API", "ERRMSG", "LEFT", "AppMessage", "ContactWay", "Customer", "Department", "Follow", "GroupChat",
           "GroupMember", "MassMessage", "MassTarget", "Media", "OAuthCode", "Tag", "TagGroup", "Token", "Transfer",
           "User", "WeComError", "WelcomeCode", "bp", "delete_tags", "issue_oauth_code", "issue_welcome_code",
           "new_id", "settle_transfers"]
