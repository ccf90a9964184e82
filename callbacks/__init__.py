"""The HTTP edge for host callbacks (and the DingTalk Stream runner): verify, decrypt, store, ack.

May import scrm (services, events, host port) and connectors (crypto, parsers); does no processing itself.
"""
