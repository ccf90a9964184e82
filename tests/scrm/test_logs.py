"""No credential reaches a log line: the access logs of werkzeug and gunicorn, urllib3's request lines, tracebacks."""
import io
import logging
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest

from scrm import logs
from tests.e2e.test_embedded import embedded  # noqa: F401  (the fixture: product + sandbox on one live server)

LEAKS = re.compile(r"(corpsecret|appsecret|access_token|accessToken|appSecret)[\"']?\s*[=:]\s*[\"']?(?!\*\*\*)[\w-]",
                   re.IGNORECASE)


@pytest.mark.parametrize("line, clean", [
    ('"GET /sandbox/wecom/cgi-bin/gettoken?corpid=ww1&corpsecret=S3cr3t HTTP/1.1" 200 -',
     '"GET /sandbox/wecom/cgi-bin/gettoken?corpid=ww1&corpsecret=*** HTTP/1.1" 200 -'),
    ("POST /cgi-bin/externalcontact/add?access_token=abc.DEF-1 HTTP/1.1",
     "POST /cgi-bin/externalcontact/add?access_token=*** HTTP/1.1"),
    ("/gettoken?appkey=dingkey&appsecret=xyz", "/gettoken?appkey=dingkey&appsecret=***"),
    ("/h5/oauth?code=0a1b2c&state=s1", "/h5/oauth?code=***&state=s1"),
    ("/sns/getuserinfo_bycode?accessKey=k&timestamp=1&signature=abc%2Bd",
     "/sns/getuserinfo_bycode?accessKey=k&timestamp=1&signature=***"),
    ('{"appKey": "dingkey", "appSecret": "xyz"}', '{"appKey": "dingkey", "appSecret": "***"}'),
    ('{"accessToken":"t0k","expireIn":7200}', '{"accessToken":"***","expireIn":7200}'),
    ("errcode=40014 qrcode=ok state_code=1", "errcode=40014 qrcode=ok state_code=1"),  # whole names only
])
def test_credentials_are_masked_and_nothing_else(line, clean):
    assert logs.redact(line) == clean


def test_every_logger_is_redacted_even_a_traceback(app, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("anything").info("calling %s", "/gettoken?corpsecret=S3cr3t")
    try:
        raise RuntimeError("Max retries exceeded with url: /cgi-bin/gettoken?corpsecret=S3cr3t")
    except RuntimeError:
        logging.getLogger("anything").exception("host down")
    assert "S3cr3t" not in caplog.text and "corpsecret=***" in caplog.text


def test_the_gunicorn_access_log_masks_query_strings(app):
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    cfg = Config()
    cfg.set("accesslog", "-")
    logger = Logger(cfg)
    out = io.StringIO()
    for handler in logger.access_log.handlers:
        handler.setStream(out)
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/sandbox/wecom/cgi-bin/gettoken?corpid=w&corpsecret=S3cr3t",
               "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "corpid=w&corpsecret=S3cr3t", "PATH_INFO": "/x",
               "REMOTE_ADDR": "127.0.0.1", "HTTP_REFERER": "https://e.example/?access_token=T0k"}
    logger.access(SimpleNamespace(status="200 OK", sent=2, headers=[]), SimpleNamespace(headers=[]), environ,
                  timedelta(milliseconds=3))
    line = out.getvalue()
    assert "corpsecret=***" in line and "S3cr3t" not in line and "T0k" not in line


@pytest.mark.parametrize("platform, masked", [("wecom", "corpsecret=***"), ("dingtalk", "access_token=***")])
def test_a_sandbox_backed_host_call_logs_no_secret(embedded, caplog, platform, masked):
    from scrm.embedded import connect_sandbox_corp
    from scrm.extensions import db
    from scrm.models import Corp
    from scrm.services.corps import host_for

    caplog.set_level(logging.DEBUG)  # werkzeug's access log and urllib3's request lines
    info = connect_sandbox_corp(embedded, platform, employees=2, customers=2)
    corp = db.session.query(Corp).filter_by(corp_key=info["corp_key"]).one()
    host_for(corp).list_departments()
    text = caplog.text
    assert masked in text  # the access log did record the calls, masked
    assert not LEAKS.search(text), LEAKS.search(text)
    assert corp.secret not in text
