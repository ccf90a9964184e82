"""The home page `/`: what is running and where to go next.

In the embedded default (the sandbox mounted) it shows the mode, every connected corp with its callback URL, counts
and last sync, the commands that create a token, call the API and play a scan, and the channels with their landing
pages. Anywhere else it is public, so it points to the API docs and the health probe and reveals nothing more.
Chinese by default, English with `?lang=en`.
"""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from scrm import page_headers
from scrm.services import overview

bp = Blueprint("home", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/home")
bp.after_request(page_headers.secure)  # CSP (no inline script or style), nosniff, never cached

LANGS = ("zh", "en")
PLATFORM_NAMES = {"zh": {"wecom": "企业微信", "dingtalk": "钉钉"}, "en": {"wecom": "WeCom", "dingtalk": "DingTalk"}}
#: where each host console takes the callback URL
CALLBACK_HINTS = {
    "zh": {"wecom": "粘贴到企业微信管理后台 › 应用 › 接收消息 › URL",
           "dingtalk": "粘贴到钉钉开发者后台 › 事件与回调 › 请求网址"},
    "en": {"wecom": "Paste into the WeCom admin console › App › Receive messages › URL",
           "dingtalk": "Paste into the DingTalk developer console › Events & callbacks › Request URL"},
}
SYNC_STATUSES = {"zh": {"done": "成功", "running": "进行中", "failed": "失败"},
                 "en": {"done": "done", "running": "running", "failed": "failed"}}
CHANNEL_STATUSES = {"zh": {"active": "启用", "paused": "已暂停", "expired": "已过期", "used": "已使用"},
                    "en": {"active": "active", "paused": "paused", "expired": "expired", "used": "used"}}


def _lang() -> str:
    lang = request.args.get("lang", "zh")
    return lang if lang in LANGS else "zh"


@bp.get("/")
def index():
    lang = _lang()
    common = {"lang": lang, "other_lang": "en" if lang == "zh" else "zh"}
    if "scrm.sandbox" not in current_app.extensions:
        return render_template("home/public.html", **common)
    return render_template(
        "home/embedded.html", o=overview.overview(), platforms=PLATFORM_NAMES[lang],
        callback_hints=CALLBACK_HINTS[lang], sync_statuses=SYNC_STATUSES[lang],
        channel_statuses=CHANNEL_STATUSES[lang], **common)
