"""Secrets never reach a log line.

The hosts put credentials in query strings (WeCom `corpsecret=` and `access_token=`, DingTalk `appsecret=`,
OAuth `code=`, signed `signature=`), and JSON bodies carry `appSecret` / `accessToken`; every access log (werkzeug's
development server, gunicorn's `--access-logfile`, urllib3's request lines at DEBUG) would print them. `install()`
wraps the process's log-record factory, so every record of every logger is redacted once, when it is made, before
any handler (or a test's log capture) sees it: the message, and the traceback of a logged exception.
"""
from __future__ import annotations

import logging
import re
import traceback

# query parameters and JSON keys whose values are credentials (matched case-insensitively, whole names only)
SECRET_NAMES = ("corpsecret", "appsecret", "secret", "suitesecret", "access_token", "accesstoken",
                "suite_access_token", "provider_access_token", "refresh_token", "jsapi_ticket", "suite_ticket",
                "ticket", "code", "auth_code", "tmp_auth_code", "authcode", "signature", "sign", "password")
MASK = "***"
_names = "|".join(sorted(SECRET_NAMES, key=len, reverse=True))
_QUERY = re.compile(rf"(?<![A-Za-z0-9_])({_names})=[^&\s\"'#;,]+", re.IGNORECASE)
_JSON = re.compile(rf"([\"']({_names})[\"']\s*:\s*)[\"'][^\"']*[\"']", re.IGNORECASE)


def redact(text: str) -> str:
    """The text with every credential's value replaced by ***: `corpsecret=***`, `"appSecret": "***"`."""
    if "=" not in text and ":" not in text:
        return text
    return _JSON.sub(rf'\1"{MASK}"', _QUERY.sub(rf"\1={MASK}", text))


def _redacted(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: logging reports it when a handler formats the record
        return record
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    return record


def install() -> None:
    """Redact every log record this process makes from now on (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "scrm_redacts", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        return _redacted(previous(*args, **kwargs))

    factory.scrm_redacts = True
    logging.setLogRecordFactory(factory)
