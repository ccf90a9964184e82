"""The WeCom half of the sandbox, mounted at /wecom.

`models` (tables, prefix sbx_wc_, and the row operations its endpoints and actions share), `endpoints` (the
`bp` blueprint: the host's APIs and the pages a person would open), `actions` (customers and employees acting,
each followed by the host's callback) and `seed` (a believable organisation).
"""
