"""What can go wrong talking to a host: typed errors for its answers, and for callbacks that fail their checks."""
from __future__ import annotations


class HostError(Exception):
    """The host answered with an error code we do not treat specially."""

    def __init__(self, errcode: int | str | None = None, errmsg: str = "", *, api: str | None = None):
        self.errcode = errcode
        self.errmsg = errmsg
        self.api = api
        super().__init__(f"{api or 'host'}: errcode={errcode} {errmsg}".strip())

    #: transient errors are worth retrying later (rate limits, timeouts, host busy)
    transient = False

    @property
    def number(self) -> int:
        """The errcode as a number, for a per-item outcome; -1 when the host gave none or a word (DingTalk v1.0)."""
        return int(self.errcode) if str(self.errcode).lstrip("-").isdigit() else -1


class HostRateLimited(HostError):
    """Frequency or concurrency limit (WeCom 45009 / 45033, DingTalk 90018 / 90002).

    `retry_after` is set when the host blocks the API for a while (WeCom 45009: the rest of the window that tripped;
    DingTalk's IP ban: 5 minutes): retrying sooner only meets the block again, so such work is deferred past it.
    Without it the limit is momentary (concurrency): a short jittered retry is right."""

    transient = True

    def __init__(self, errcode: int | str | None = None, errmsg: str = "", *, api: str | None = None,
                 retry_after: float | None = None):
        super().__init__(errcode, errmsg, api=api)
        self.retry_after = retry_after


class HostQuotaExceeded(HostError):
    """A quota that will not recover by retrying soon (DingTalk 90020 monthly quota)."""


class HostUnavailable(HostError):
    """Network failure, timeout, HTTP 5xx or 'system busy' (-1).

    `url` is the address tried when the host could not be reached at all (errcode "network" or "timeout"): scheme,
    host and path only, never the query string (it carries secrets and tokens)."""

    transient = True

    def __init__(self, errcode: int | str | None = None, errmsg: str = "", *, api: str | None = None,
                 url: str | None = None):
        super().__init__(errcode, errmsg, api=api)
        self.url = url.split("?", 1)[0].split("#", 1)[0] if url else None

    @property
    def unreachable(self) -> bool:
        """The host was not reached (no answer at all), as opposed to answering 'busy'."""
        return self.errcode in ("network", "timeout")


class HostCredentialsError(HostError):
    """Wrong corp id or secret (WeCom 40001 / 40013 / 40091, DingTalk invalidClientIdOrSecret); never retried."""


class HostPermissionError(HostError):
    """The app lacks a permission or the API is not enabled for it (48002, 60011, 84074, 60205)."""


class HostNotFound(HostError):
    """The user, customer or relation does not exist on the host (40096, 84061, 60111, 60121, 33012)."""


class HostUnsupported(HostError):
    """The host platform has no API for this capability (for example a contact way on DingTalk)."""

    def __init__(self, capability: str, platform: str):
        super().__init__("unsupported", f"{platform} cannot {capability}", api=capability)
        self.capability = capability
        self.platform = platform


class CallbackError(Exception):
    """A callback failed verification or parsing; `reason` is a short metric label (the edge picks the answer)."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


class BadSignature(CallbackError):
    """The signature is wrong, or the corp has no callback credentials to check it with."""


class WrongReceiver(CallbackError):
    """The decrypted receive id / owner key is another corp's or app's."""


class MalformedPayload(CallbackError):
    """The body, envelope or decrypted payload cannot be read."""
