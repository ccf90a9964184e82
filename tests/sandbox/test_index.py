"""The sandbox's index: what it offers, in Chinese, never a secret; unknown paths a JSON 404; standalone too."""
from sandbox.app import create_sandbox_app
from sandbox.scenarios import ACTIONS
from tests.e2e.test_embedded import embedded  # noqa: F401  (the product with the sandbox mounted)


def _app(tmp_path, **kwargs):
    return create_sandbox_app(f"sqlite:///{tmp_path / 'sbx.db'}", **kwargs)


def test_the_index_lists_hosts_corps_clock_actions_and_control_routes_without_secrets(tmp_path):
    app = _app(tmp_path)
    control = app.extensions["sandbox_control"]
    wecom = control.create_corp("wecom", name="<img src=x onerror=alert(1)>")
    ding = control.create_corp("dingtalk")
    page = app.test_client().get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "模拟的平台接口" in html and "/wecom</pre>" in html and "/dingtalk</pre>" in html
    assert wecom.corp_id in html and ding.corp_id in html and "沙箱组织" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    for secret in (wecom.secret, ding.secret, wecom.callback_aes_key, ding.callback_token):
        assert secret not in html
    for names in ACTIONS.values():
        for name in names:
            assert f"<code>{name}</code>" in html
    assert "/_control/corps/&lt;corp_id&gt;/play/&lt;name&gt;" in html and "/_control/clock" in html
    assert "sandbox play" in html and "沙箱时间" in html
    assert app.test_client().get("/static/index.css").status_code == 200


def test_a_control_token_keeps_the_corps_off_the_index(tmp_path):
    app = _app(tmp_path, control_token="t0ken")
    corp = app.extensions["sandbox_control"].create_corp("wecom")
    html = app.test_client().get("/").get_data(as_text=True)
    assert corp.corp_id not in html and "X-Sandbox-Token" in html


def test_unknown_paths_answer_a_json_404_in_chinese(tmp_path):
    client = _app(tmp_path).test_client()
    for path in ("/nope", "/wecom/cgi-bin/no_such_api"):
        answer = client.get(path)
        assert answer.status_code == 404 and answer.is_json
        assert "沙箱中没有这个地址" in answer.json["message"]


def test_mounted_under_sandbox_the_bare_prefix_redirects_to_the_index(embedded):  # noqa: F811
    client = embedded.test_client()
    bare = client.get("/sandbox")
    assert bare.status_code in (301, 308) and bare.headers["Location"].endswith("/sandbox/")
    index = client.get("/sandbox/")
    assert index.status_code == 200 and "/sandbox/wecom</pre>" in index.get_data(as_text=True)
    assert client.get("/sandbox/static/index.css").status_code == 200
    assert client.get("/sandbox/nope").is_json
