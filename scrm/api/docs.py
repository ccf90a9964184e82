"""The API's documentation: the OpenAPI spec in Chinese or English (`/api/v1/openapi.json?lang=zh|en`) and a page
that renders it (`/api/v1/docs`, Chinese by default, `?lang=en`) with Swagger UI served from this backend (npm's
swagger-ui-dist, copied into scrm/api/static/vendor/ by `make setup`; no CDN, so private deployments work too).

Every text of the spec is written in both languages where it is written: a view's docstring (and a blueprint's
description) is English first, then a line starting with `zh:` and the Chinese; the first line of each part is
the summary, the lines after it the description (Markdown).
"""
from __future__ import annotations

import copy
from pathlib import Path

from flask import Blueprint, Flask, abort, jsonify, render_template, request
from flask_smorest import Api

from scrm import page_headers

STATIC = Path(__file__).resolve().parent / "static"
#: the renderer's files, copied from node_modules by `make setup`
VENDOR_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png")
LANGS = ("zh", "en")
ZH_MARK = "zh:"

INFO = {
    "en": {"title": "SCRM API", "description": (
        "The JSON API of SCRM: customers, channel codes, the tag library, employees and API tokens of one corp "
        "(WeCom or DingTalk).\n\n"
        "**Authentication.** Every request carries `Authorization: Bearer <token>`. An admin creates a token on "
        "the server with `scrm token create --corp KEY --role admin|manager|sales` (a manager or sales token names "
        "its `--employee`); the secret is printed once and only its hash is stored. Admin tokens can also manage "
        "tokens through `/api/v1/tokens`. Click **Authorize** and paste the token to try the API here.\n\n"
        "**Errors** are JSON `{code, message}`; a validation error (422) names the `field`. Unknown fields are "
        "rejected.")},
    "zh": {"title": "SCRM 接口文档", "description": (
        "SCRM 的 JSON 接口：一个企业（企业微信或钉钉）的客户、渠道码、标签库、员工和 API 令牌。\n\n"
        "**认证。** 每个请求都带上 `Authorization: Bearer <令牌>`。管理员在服务器上用 "
        "`scrm token create --corp KEY --role admin|manager|sales` 创建令牌（manager 和 sales 令牌需指定 "
        "`--employee`）；令牌只显示这一次，系统只保存其哈希。admin 令牌也可以通过 `/api/v1/tokens` 管理令牌。"
        "点击 **Authorize** 并粘贴令牌，即可在本页试用接口。\n\n"
        "**错误**以 JSON `{code, message}` 返回；校验错误（422）会指出字段 `field`。未知字段会被拒绝。")},
}
SECURITY = {
    "en": "An API token: `Authorization: Bearer <token>`, created with `scrm token create` (or POST /api/v1/tokens "
          "with an admin token). Its role (admin, manager, sales) decides what it may see and change.",
    "zh": "API 令牌：`Authorization: Bearer <令牌>`，用 `scrm token create` 创建（或用 admin 令牌调用 "
          "POST /api/v1/tokens）。令牌的角色（admin、manager、sales）决定它能查看和修改的内容。",
}
#: flask-smorest's own response descriptions, in Chinese
RESPONSES_ZH = {"OK": "成功", "Created": "已创建", "No Content": "成功，无内容", "Default error response": "错误",
                "Unprocessable Entity": "输入无效（指出字段）", "Bad Request": "请求无法读取",
                "Not Found": "不存在", "Forbidden": "无权操作", "Conflict": "冲突"}


def split_languages(summary: str | None, description: str | None) -> dict[str, tuple[str, str]]:
    """A docstring's (summary, description) in each language: {"en": (summary, description), "zh": (...)}.
    The Chinese part starts at the line beginning with `zh:`; a text without one has no Chinese (empty)."""
    lines = ((summary or "") + "\n" + (description or "")).strip().splitlines()
    at = next((i for i, line in enumerate(lines) if line.strip().startswith(ZH_MARK)), len(lines))
    english, chinese = lines[:at], lines[at:]
    if chinese:
        chinese[0] = chinese[0].strip()[len(ZH_MARK):]

    def part(block: list[str]) -> tuple[str, str]:
        block = [line.strip() for line in block]
        while block and not block[0]:
            block.pop(0)
        return (block[0], "\n".join(block[1:]).strip()) if block else ("", "")
    return {"en": part(english), "zh": part(chinese)}


def localized_spec(spec: dict, lang: str) -> dict:
    """The spec with info, tags, summaries, descriptions and the security scheme in one language (English where
    a Chinese text is missing)."""
    spec = copy.deepcopy(spec)
    spec["info"].update(INFO[lang])
    for scheme in spec.get("components", {}).get("securitySchemes", {}).values():
        scheme["description"] = SECURITY[lang]
    for tag in spec.get("tags", []):
        texts = split_languages(None, tag.get("description"))
        text = texts[lang] if texts[lang][0] else texts["en"]
        tag["description"] = "\n\n".join(t for t in text if t)
    for item in spec.get("paths", {}).values():
        for method, op in item.items():
            if method == "parameters" or not isinstance(op, dict):
                continue
            texts = split_languages(op.get("summary"), op.get("description"))
            summary, description = texts[lang] if texts[lang][0] else texts["en"]
            op["summary"] = summary
            if description:
                op["description"] = description
            else:
                op.pop("description", None)
            if lang == "zh":
                for response in op.get("responses", {}).values():
                    if isinstance(response, dict) and response.get("description") in RESPONSES_ZH:
                        response["description"] = RESPONSES_ZH[response["description"]]
    if lang == "zh":
        for response in spec.get("components", {}).get("responses", {}).values():
            if response.get("description") in RESPONSES_ZH:
                response["description"] = RESPONSES_ZH[response["description"]]
    return spec


def _lang(default: str) -> str:
    lang = request.args.get("lang", default)
    if lang not in LANGS:
        abort(400, description="lang: zh or en")
    return lang


def init_docs(app: Flask, api: Api, prefix: str) -> None:
    bp = Blueprint("api_docs", __name__, static_folder="static", static_url_path="/docs/static",
                   template_folder="templates")

    @bp.route("/openapi.json")
    def openapi_json():
        lang = _lang("en")
        return jsonify(localized_spec(api.spec.to_dict(), lang))

    @bp.route("/docs")
    def docs_page():
        lang = request.args.get("lang", "zh")
        if lang not in LANGS:
            return app.response_class("lang 只能是 zh 或 en (lang: zh or en)\n", status=400, mimetype="text/plain")
        missing = [name for name in VENDOR_FILES if not (STATIC / "vendor" / name).is_file()]
        if missing:
            return app.response_class(
                "API 文档页面的前端文件缺失，请先运行 make setup (the API docs' assets are missing: run make setup)\n",
                status=503, mimetype="text/plain")
        return render_template("api/docs.html", lang=lang, info=INFO[lang])

    bp.after_request(page_headers.secure)
    app.register_blueprint(bp, url_prefix=prefix)
