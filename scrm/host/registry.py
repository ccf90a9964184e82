"""Platforms: one descriptor per host platform, held by the app that registered it.

A descriptor says everything the product needs of a platform: how to build a host for a corp, how to read a
stored callback payload, how to verify and decrypt a callback, and what the platform can do. The composition root
registers one per platform on each app (`scrm.app.create_app`); two apps in one process share nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from flask import Flask, current_app

from scrm.host.capabilities import Capability
from scrm.host.types import CorpAccess

if TYPE_CHECKING:
    from scrm.events import ParsedCallback
    from scrm.host.port import Host

EXTENSION = "scrm.platforms"


@dataclass(frozen=True)
class Platform:
    """One host platform as the product sees it."""

    name: str
    capabilities: frozenset[Capability]
    #: a Host for one corp (the descriptor's connector shares one runtime among all of them)
    host: Callable[[CorpAccess], "Host"]
    #: a stored, decrypted callback payload → ParsedCallback
    parse: Callable[[str], "ParsedCallback"]
    #: the callback crypto of one corp (verify, decrypt, encrypt the answer); raises BadSignature when unset
    callback_crypto: Callable[[CorpAccess], Any]
    #: a frame of the platform's event stream (DingTalk Stream: type, id, data, born time) → ParsedCallback
    parse_stream: Callable[[str, str, Any, int | None], "ParsedCallback"] | None = None


class Platforms:
    """The platforms of one app, by name; `override` makes every corp use one host (the tests' fake)."""

    def __init__(self) -> None:
        self._platforms: dict[str, Platform] = {}
        self._override: Callable[[CorpAccess], "Host"] | None = None

    def register(self, platform: Platform) -> None:
        self._platforms[platform.name] = platform

    def get(self, name: str) -> Platform:
        try:
            return self._platforms[name]
        except KeyError:
            raise LookupError(f"no platform {name!r} is registered") from None

    @property
    def names(self) -> list[str]:
        return sorted(self._platforms)

    def parse(self, platform: str, payload: str) -> "ParsedCallback":
        """Parse a stored, decrypted payload again (the inbox keeps only the raw text)."""
        return self.get(platform).parse(payload)

    def override(self, factory: Callable[[CorpAccess], "Host"] | None) -> None:
        self._override = factory

    def host_for(self, access: CorpAccess) -> "Host":
        if self._override is not None:
            return self._override(access)
        return self.get(access.platform).host(access)

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION] = self


def platforms(app: Flask | None = None) -> Platforms:
    """The platforms of the given app, or of the current one."""
    return (app or current_app).extensions[EXTENSION]
