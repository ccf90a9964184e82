"""Host platforms belong to the app that registered them: one descriptor per platform, capabilities as an enum."""
from __future__ import annotations

import pytest

from connectors.dingtalk.host import DingTalkHost
from connectors.wecom.crypto import WeComCrypto
from connectors.wecom.host import WeComHost
from scrm.host import BadSignature, Capability, CorpAccess, platforms
from tests.fakes import FakeHost


def access(platform: str, **overrides) -> CorpAccess:
    values = dict(corp_key="k1", platform=platform, corp_id="ww1", agent_id="1000002", secret="s", app_key="ding1",
                  callback_token="tok", callback_aes_key="a" * 43)
    return CorpAccess(**{**values, **overrides})


def test_two_apps_share_no_platform_state(make_app):
    first, second = make_app(), make_app()
    assert platforms(first) is not platforms(second)
    assert first.extensions["scrm.host_runtime"] is not second.extensions["scrm.host_runtime"]
    a, b = platforms(first).host_for(access("wecom")), platforms(second).host_for(access("wecom"))
    assert isinstance(a, WeComHost) and a.client is not b.client
    assert a.client.runtime.tokens is not b.client.runtime.tokens
    assert a.client.runtime.limiter is not b.client.runtime.limiter


def test_an_override_stays_in_its_app(make_app):
    first, second = make_app(), make_app()
    fake = FakeHost()
    platforms(first).override(lambda _access: fake)
    assert platforms(first).host_for(access("dingtalk")) is fake
    assert isinstance(platforms(second).host_for(access("dingtalk")), DingTalkHost)


def test_each_descriptor_carries_everything_of_its_platform(app):
    found = platforms(app)
    assert found.names == ["dingtalk", "wecom"]
    wecom, dingtalk = found.get("wecom"), found.get("dingtalk")
    assert isinstance(wecom.callback_crypto(access("wecom")), WeComCrypto)
    with pytest.raises(BadSignature):
        dingtalk.callback_crypto(access("dingtalk", callback_token=None))
    for platform in (wecom, dingtalk):
        assert platform.capabilities and all(isinstance(c, Capability) for c in platform.capabilities)
        assert platform.host(access(platform.name)).capabilities == platform.capabilities
    assert Capability.CREATE_CHANNEL_CODE in wecom.capabilities - dingtalk.capabilities
    with pytest.raises(LookupError):
        found.get("feishu")


def test_the_fake_declares_only_real_capabilities():
    assert all(isinstance(c, Capability) for c in FakeHost.capabilities)
