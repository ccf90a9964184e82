def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json == {"status": "ok"}


def test_readyz_ready_on_the_embedded_default(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json["checks"] == {"database": "ok", "broker": "in-process"}


def test_readyz_503_when_the_database_is_unreachable(make_app, tmp_path):
    app = make_app(DATABASE_URL="mysql+pymysql://nobody:pw@127.0.0.1:1/none?connect_timeout=1")
    r = app.test_client().get("/readyz")
    assert r.status_code == 503
    assert r.json["status"] == "not ready" and r.json["checks"]["database"].startswith("error")
    assert "pw" not in r.get_data(as_text=True)


def test_readyz_503_when_the_broker_is_unreachable(make_app):
    app = make_app(BROKER_URL="redis://127.0.0.1:1/0", TASKS_EAGER=False)
    r = app.test_client().get("/readyz")
    assert r.status_code == 503
    assert r.json["checks"]["database"] == "ok" and r.json["checks"]["broker"].startswith("error")


# ---------------------------------------------------------------- /metrics: who may read it


def _metrics(app, remote, token=None, forwarded=None):
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    return app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": remote}, headers=headers).status_code


def test_metrics_answer_loopback_only_by_default(make_app):
    app = make_app()
    assert _metrics(app, "127.0.0.1") == 200 and _metrics(app, "::1") == 200
    assert _metrics(app, "203.0.113.9") == 403 and _metrics(app, "10.0.0.7") == 403


def test_metrics_are_not_fooled_by_forwarded_addresses(make_app):
    app = make_app(TRUSTED_PROXIES="1")
    assert _metrics(app, "203.0.113.9", forwarded="127.0.0.1") == 403  # a direct client naming loopback
    assert _metrics(app, "127.0.0.1", forwarded="203.0.113.9") == 403  # the local proxy relaying the internet
    assert _metrics(app, "127.0.0.1") == 200


def test_with_a_token_metrics_want_it_from_anywhere(make_app):
    app = make_app(METRICS_TOKEN="m-" + "x" * 30)
    assert _metrics(app, "203.0.113.9", token="m-" + "x" * 30) == 200
    assert _metrics(app, "203.0.113.9") == 401 and _metrics(app, "127.0.0.1") == 401
    assert _metrics(app, "203.0.113.9", token="wrong") == 401
    r = app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert r.headers["WWW-Authenticate"].startswith("Bearer") and "scrm_" not in r.get_data(as_text=True)


def test_allowed_networks_and_a_token_both_hold(make_app):
    app = make_app(METRICS_TOKEN="t" * 32, METRICS_ALLOW="10.0.0.0/8")
    assert _metrics(app, "10.1.2.3", token="t" * 32) == 200
    assert _metrics(app, "10.1.2.3") == 401 and _metrics(app, "203.0.113.9", token="t" * 32) == 403
    only = make_app(METRICS_ALLOW="10.0.0.0/8, 192.0.2.0/24")
    assert _metrics(only, "192.0.2.8") == 200 and _metrics(only, "127.0.0.1") == 403


def test_a_bad_metrics_network_is_refused_at_start(tmp_path):
    import pytest

    from scrm.config import ConfigError, Settings, build_flask_config

    with pytest.raises(ConfigError, match="SCRM_METRICS_ALLOW"):
        build_flask_config(Settings(ENV="test", INSTANCE_PATH=str(tmp_path), METRICS_ALLOW="localhost"))


def test_metrics_name_their_charset_once(make_app):
    resp = make_app().test_client().get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
