"""An emulator of the WeCom and DingTalk server APIs, and of the people on the other side of them.

`app.create_sandbox_app(db_url)` serves the host APIs (`/wecom/cgi-bin/...`, `/dingtalk/...`) and a JSON control
API (`/_control/...`); `app.Control(db)` is the same control surface in-process. `scenarios.play(...)` mutates the
sandbox's state as customers and employees would, and delivers the host's signed, encrypted callbacks to the corp's
callback URL with the host's retry behaviour (`delivery.deliver`). `seed.seed(...)` builds believable organisations.
"""
