"""SCRM_TRUSTED_PROXIES: the client's address is believed exactly as far as the configured proxies vouch for it."""
import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from scrm import proxies
from scrm.config import ConfigError, Settings, build_flask_config


def _echo(environ, start_response):
    return Response(environ["REMOTE_ADDR"])(environ, start_response)


def client_of(setting: str, remote: str, forwarded: str | None = None) -> str:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    return Client(proxies.wrap(_echo, setting)).get("/", environ_base={"REMOTE_ADDR": remote},
                                                     headers=headers).get_data(as_text=True)


@pytest.mark.parametrize("setting, remote, forwarded, client", [
    ("", "10.0.0.2", "203.0.113.7", "10.0.0.2"),  # trusting none: the header is anybody's
    ("", "127.0.0.1", "1.2.3.4, 10.0.0.5", "127.0.0.1"),  # all-private hops are no exception
    ("1", "10.0.0.2", "203.0.113.7", "203.0.113.7"),
    ("1", "10.0.0.2", "1.2.3.4, 203.0.113.7", "203.0.113.7"),  # what the client wrote stays unbelieved
    ("2", "10.0.0.2", "1.2.3.4, 203.0.113.7, 172.18.0.3", "203.0.113.7"),
    ("10.0.0.0/8", "10.0.0.2", "203.0.113.7", "203.0.113.7"),
    ("10.0.0.0/8", "203.0.113.50", "1.2.3.4", "203.0.113.50"),  # not from a trusted proxy: ignored
    ("10.0.0.0/8", "10.0.0.2", "1.2.3.4, 10.9.9.9", "1.2.3.4"),  # two trusted hops, then the client
    ("10.0.0.0/8", "10.0.0.2", "1.2.3.4, 100.64.3.4", "100.64.3.4"),  # an untrusted LB is the client
    ("10.0.0.0/8,100.64.0.0/10", "10.0.0.2", "1.2.3.4, 203.0.113.7, 100.64.3.4", "203.0.113.7"),
    ("10.0.0.0/8", "::ffff:10.0.0.2", "203.0.113.7", "203.0.113.7"),
    ("fd00::/8", "fd00::1", "2001:db8::7", "2001:db8::7"),
    ("10.0.0.0/8", "10.0.0.2", "not-an-address", "10.0.0.2"),
])
def test_the_client_is_the_first_address_no_trusted_proxy_stands_for(setting, remote, forwarded, client):
    assert client_of(setting, remote, forwarded) == client


@pytest.mark.parametrize("bad", ["one", "10.0.0.0/33", "-1", "10.0.0.0/8, nope"])
def test_a_setting_that_is_neither_a_count_nor_networks_is_refused_at_start(bad, tmp_path):
    with pytest.raises(ConfigError, match="SCRM_TRUSTED_PROXIES"):
        build_flask_config(Settings(ENV="test", INSTANCE_PATH=str(tmp_path), TRUSTED_PROXIES=bad))


def test_the_setting_is_read_from_the_environment():
    assert Settings.from_env({"SCRM_TRUSTED_PROXIES": "100.64.0.0/10"}, dotenv=False).TRUSTED_PROXIES \
        == "100.64.0.0/10"
