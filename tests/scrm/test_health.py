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
