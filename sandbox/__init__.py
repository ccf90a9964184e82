"""An emulator of the WeCom and DingTalk server APIs, and of the people on the other side of them.

Not part of the product's distribution: the embedded default (`make run`) and the tests use it from the checkout,
a production install leaves it out. Its modules, each importing only those above it in this list:

- `core`: the declarative base and database of its own tables, the clock, the corps, the gate that meters calls
- `names`: believable names of people, nicknames, departments, tags and companies
- `delivery`: callbacks delivered the way the hosts do it (bounded waits, their retries, per-key order)
- `state`: `Sandbox`, one sandbox's database and what it keeps in memory (gate, token cache, budgets, deliverer)
- `wecom/`, `dingtalk/`: one half per host, each with `models`, `endpoints` (a blueprint), `actions`, `seed`
- `scenarios`, `seed`: play an action or seed an organisation on a corp of either platform
- `control`: `Control(sandbox)` in-process and the `/_control/...` JSON API
- `app`: `create_sandbox_app(db_url)`, the WSGI app (hosts at /wecom and /dingtalk, control at /_control)
- `cli`: the `sandbox` command group (serve, create-corp, seed, play, advance)
"""
