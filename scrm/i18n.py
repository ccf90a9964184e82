"""Translations of the pages (Flask-Babel): Simplified Chinese is the source language and the default; English is
available. The language is the user's choice (`?lang=en`, kept in the session), else the corp's option `language`,
else Chinese. Templates mark text with `_()`; the English catalog lives in scrm/translations (pybabel)."""
from __future__ import annotations

from pathlib import Path

from flask import Flask, request, session
from flask_babel import Babel, gettext

LANGUAGES = ("zh", "en")
DEFAULT = "zh"
CHOICE = "scrm.lang"


def init_babel(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(Path(__file__).parent / "translations"))
    Babel(app, locale_selector=locale)
    app.jinja_env.globals["page_lang"] = page_lang


def locale() -> str:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session[CHOICE] = asked
        return asked
    chosen = session.get(CHOICE)
    if chosen in LANGUAGES:
        return chosen
    return _corp_language() or DEFAULT


def _corp_language() -> str | None:
    from scrm import web_session
    from scrm.extensions import db
    from scrm.models import Corp

    who = web_session.identity()
    corp = db.session.get(Corp, who.corp_id) if who and who.corp_id else None
    language = (corp.options or {}).get("language") if corp else None
    return language if language in LANGUAGES else None


def page_lang() -> str:
    """The `lang` attribute of a page's <html>."""
    from flask_babel import get_locale

    return "en" if str(get_locale()) == "en" else "zh-CN"


def stage_names() -> dict[str, str]:
    """The default stages in words (a corp's own stages are shown as they are named)."""
    return {"new": gettext("新客户"), "contacted": gettext("已联系"), "intent": gettext("有意向"), "won": gettext("已成交"),
            "lost": gettext("已流失")}
