"""An unreachable host's error carries the URL tried, never its query string (the secret or the token)."""
import pytest

from connectors.runtime import make_runtime
from scrm.host import CorpAccess, HostUnavailable


@pytest.mark.parametrize("platform,path", [("wecom", "/cgi-bin/gettoken"), ("dingtalk", "")])
def test_network_failure_names_the_url_without_the_query(platform, path):
    from connectors.dingtalk.host import DingTalkHost
    from connectors.wecom.host import WeComHost

    runtime = make_runtime(None)
    runtime.sleep, runtime.attempts = (lambda s: None), 1
    access = CorpAccess(corp_key="k1", platform=platform, corp_id="ww1", agent_id="1", secret="hunter2",
                        app_key="dingkey", callback_token=None, callback_aes_key=None,
                        api_base="http://127.0.0.1:1", options={})
    host = (WeComHost if platform == "wecom" else DingTalkHost)(access, runtime)
    with pytest.raises(HostUnavailable) as caught:
        host.check_credentials()
    assert caught.value.unreachable and caught.value.url.startswith("http://127.0.0.1:1" + path)
    assert "?" not in caught.value.url and "hunter2" not in caught.value.url + str(caught.value)
