"""The port to a host platform (WeCom, DingTalk), in domain words: `scrm/` says what it needs, `connectors/`
implements it per platform.

- `errors`: typed errors of a host's answers and of callbacks that fail their checks;
- `types`: the data shapes the port speaks in (every id is a host id: userid, external_userid, tag id, chat id);
- `capabilities`: what a platform can do, as an enum;
- `port`: the `Host` protocol;
- `registry`: one `Platform` descriptor per host platform, held by the app.

The names are re-exported here, so callers write `from scrm.host import Host, HostError`.
"""
from scrm.host.capabilities import Capability
from scrm.host.errors import (
    BadSignature, CallbackError, HostCredentialsError, HostError, HostNotFound, HostPermissionError,
    HostQuotaExceeded, HostRateLimited, HostUnavailable, HostUnsupported, MalformedPayload, WrongReceiver,
)
from scrm.host.port import Host, iterate
from scrm.host.registry import Platform, Platforms, platforms
from scrm.host.types import (
    Attachment, ChannelCode, ChannelCodeSpec, CorpAccess, CustomerType, HostCustomer, HostCustomerRecord,
    HostDepartment, HostEmployee, HostFollow, HostGroupChat, HostGroupMember, HostMedia, HostTag, HostTagGroup,
    LoginIdentity, MassMessage, MassMessageResult, MassMessageSpec, MassMessageTask, MassSendState, MassTaskState,
    MemberType, MessageContent, Page, TransferOutcome, TransferState, TransferStatus, UnassignedCustomer,
)

__all__ = [
    "Attachment", "BadSignature", "CallbackError", "Capability", "ChannelCode", "ChannelCodeSpec", "CorpAccess",
    "CustomerType", "Host", "HostCredentialsError", "HostCustomer", "HostCustomerRecord", "HostDepartment",
    "HostEmployee", "HostError", "HostFollow", "HostGroupChat", "HostGroupMember", "HostMedia", "HostNotFound",
    "HostPermissionError", "HostQuotaExceeded", "HostRateLimited", "HostTag", "HostTagGroup", "HostUnavailable",
    "HostUnsupported", "LoginIdentity", "MalformedPayload", "MassMessage", "MassMessageResult", "MassMessageSpec",
    "MassMessageTask", "MassSendState", "MassTaskState", "MemberType", "MessageContent", "Page", "Platform",
    "Platforms", "TransferOutcome", "TransferState", "TransferStatus", "UnassignedCustomer", "WrongReceiver",
    "iterate", "platforms",
]
