"""Host platform connectors: wecom/, dingtalk/, sandbox/ (an emulator of both), and the shared token store,
rate limiter and retry that every connector uses. May import scrm.host and scrm.events, never scrm services or
models: each platform's `platform.py` makes the descriptor (`scrm.host.Platform`) the composition root registers."""
