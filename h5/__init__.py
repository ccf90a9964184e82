"""Pages opened inside WeCom / DingTalk (the chat sidebar above all): blueprint, templates, static assets.

Thin views over scrm services; may import scrm and the host port, never connectors directly.
"""
