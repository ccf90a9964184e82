"""/api/v1/jssdk/config: the JS-SDK signatures of a page opened inside the host app."""
from __future__ import annotations

from flask import g
from marshmallow import fields, validate

from scrm.api.auth import require_token
from scrm.api.parsing import Blueprint
from scrm.api.schemas import Strict
from scrm.services import jssdk

bp = Blueprint("jssdk", __name__, description="JS-SDK signatures of the pages\nzh:页面的 JS-SDK 签名")
bp.before_request(require_token)


class ConfigIn(Strict):
    url = fields.Str(required=True, validate=validate.Length(min=1, max=jssdk.URL_MAX),
                     metadata={"description": "the page's URL as location.href gives it (the #fragment is dropped)"})
    refresh = fields.Bool(load_default=False, metadata={"description": "fetch new tickets first (after the host "
                                                                        "refused a configuration)"})


@bp.post("/jssdk/config")
@bp.arguments(ConfigIn)
@bp.response(200)
def config(args):
    """Sign a page for the host's JS-SDK

    For `ww.register` (`wx.config` + `wx.agentConfig`) on WeCom, `dd.config` on DingTalk. WeCom: `{corp: {appId, timestamp, nonceStr, signature}, agent: {corpid, agentid, timestamp, nonceStr,
    signature}}`, the first signed with the corp's jsapi ticket, the second with the app's (`agent_config`) ticket.
    DingTalk: `{dd: {agentId, corpId, timeStamp, nonceStr, signature, type}}`.

    zh:页面 JS-SDK 签名
    返回页面 URL 的 JS-SDK 签名：企业微信返回 corp（企业 jsapi_ticket 签名，用于 wx.config）与 agent（应用
    ticket 签名，用于 wx.agentConfig）；钉钉返回 dd（dd.config 参数）。只签本系统的页面。
    """
    return jssdk.page_config(g.principal, args["url"], refresh=args["refresh"])
