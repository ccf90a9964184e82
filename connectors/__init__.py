"""Host platform connectors: wecom/ and dingtalk/, and the shared token store, rate limiter and retry that every
connector uses (the emulator of both hosts is the top-level `sandbox` package). May import scrm.host and
scrm.events, never scrm services or models: each platform's `platform.py` makes the descriptor
(`scrm.host.Platform`) the composition root registers."""
