from pathlib import Path

import pytest

from scrm.config import ConfigError, Settings, build_flask_config, mask_url


def test_embedded_defaults_need_nothing(tmp_path):
    cfg = build_flask_config(Settings.from_env({"SCRM_INSTANCE_PATH": str(tmp_path)}))
    assert cfg["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'scrm.db'}"
    assert cfg["REDIS_URL"] is None and cfg["BROKER_URL"] is None
    assert cfg["TASKS_EAGER"] is True
    assert cfg["SANDBOX"] is True


def test_secret_key_is_generated_once_and_kept(tmp_path):
    first = build_flask_config(Settings(INSTANCE_PATH=str(tmp_path)))["SECRET_KEY"]
    second = build_flask_config(Settings(INSTANCE_PATH=str(tmp_path)))["SECRET_KEY"]
    assert first == second and len(first) >= 48
    assert (Path(tmp_path) / "secret_key").stat().st_mode & 0o777 == 0o600


def test_broker_defaults_to_redis_and_disables_eager(tmp_path):
    cfg = build_flask_config(Settings.from_env({"SCRM_INSTANCE_PATH": str(tmp_path),
                                                "SCRM_REDIS_URL": "redis://r:6379/0"}))
    assert cfg["BROKER_URL"] == "redis://r:6379/0"
    assert cfg["TASKS_EAGER"] is False


def test_env_values_are_typed():
    s = Settings.from_env({"SCRM_TASKS_EAGER": "yes", "SCRM_MAX_CALLBACK_BYTES": "2048", "SCRM_SANDBOX": "0"})
    assert s.TASKS_EAGER is True and s.MAX_CALLBACK_BYTES == 2048 and s.SANDBOX is False


@pytest.mark.parametrize("env, missing", [
    ({}, "SCRM_SECRET_KEY, SCRM_DATABASE_URL, SCRM_REDIS_URL, SCRM_BASE_URL"),
    ({"SCRM_SECRET_KEY": "x" * 40, "SCRM_REDIS_URL": "redis://r", "SCRM_BASE_URL": "https://s.example.com"},
     "SCRM_DATABASE_URL"),
])
def test_production_names_the_missing_variables(env, missing, tmp_path):
    env = {"SCRM_ENV": "production", "SCRM_INSTANCE_PATH": str(tmp_path), **env}
    with pytest.raises(ConfigError) as err:
        build_flask_config(Settings.from_env(env))
    assert missing in str(err.value)
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize("env, variable", [
    ({"SCRM_SECRET_KEY": "short"}, "SCRM_SECRET_KEY"),
    ({"SCRM_DATABASE_URL": "sqlite:///x.db"}, "SCRM_DATABASE_URL"),
    ({"SCRM_SANDBOX": "1"}, "SCRM_SANDBOX"),
])
def test_production_refuses_unsafe_values(env, variable):
    base = {"SCRM_ENV": "production", "SCRM_SECRET_KEY": "k" * 40, "SCRM_REDIS_URL": "redis://r",
            "SCRM_DATABASE_URL": "mysql+pymysql://u:p@db/scrm", "SCRM_BASE_URL": "https://s.example.com"}
    with pytest.raises(ConfigError, match=variable):
        build_flask_config(Settings.from_env({**base, **env}))


def test_mask_url_hides_password():
    assert mask_url("mysql+pymysql://root:s3cr3t@db:3306/scrm") == "mysql+pymysql://root:***@db:3306/scrm"
    assert mask_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_the_base_url_is_the_one_set_else_where_the_server_last_served_else_port_5000(tmp_path):
    from scrm.config import record_served_address

    def base(**env):
        return build_flask_config(Settings.from_env({"SCRM_INSTANCE_PATH": str(tmp_path), **env}))["BASE_URL"]

    assert base() == "http://127.0.0.1:5000"
    record_served_address(tmp_path, "http://127.0.0.1:5078")
    assert base() == "http://127.0.0.1:5078"  # `scrm corp list` in another shell prints the served URLs
    assert base(SCRM_BASE_URL="https://scrm.example.com/") == "https://scrm.example.com"
