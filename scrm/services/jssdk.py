"""The JS-SDK signatures a page asks for: the host's own signatures of the page's exact URL (without its
`#fragment`), with tickets cached per corp and app like tokens (the connectors do that)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app

from scrm.errors import ValidationError
from scrm.services.access import Principal
from scrm.services.corps import host_for

URL_MAX = 2048


def page_config(principal: Principal, url: str, *, refresh: bool = False) -> dict:
    """wx.config's and wx.agentConfig's signatures (WeCom) or dd.config's (DingTalk) for one of our pages.
    Only pages of this deployment are signed: a URL of another site (or scheme) is refused."""
    if not isinstance(url, str) or not url or len(url) > URL_MAX:
        raise ValidationError("url", f"the page's URL, at most {URL_MAX} characters")
    page, ours = urlsplit(url), urlsplit(current_app.config["BASE_URL"])
    if page.scheme not in ("http", "https") or (page.scheme, page.netloc) != (ours.scheme, ours.netloc):
        raise ValidationError("url", f"only pages of {ours.scheme}://{ours.netloc} are signed")
    return host_for(principal.corp).jsapi_config(url.split("#", 1)[0], refresh=refresh)
