"""The DingTalk half of the sandbox, mounted at /dingtalk.

`models` (tables, prefix sbx_dt_, and the lookups its endpoints and actions share), `endpoints` (the `bp`
blueprint: the oapi and v1.0 APIs the product uses), `actions` (an organisation changing, each change followed by
the host's event callback) and `seed` (a believable organisation).
"""
