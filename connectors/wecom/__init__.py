"""WeCom (企业微信) connector: callback crypto, event parsing, the API client and the Host implementation.

`crypto.WeComCrypto` verifies and decrypts callbacks, `events.parse` turns a decrypted callback into a domain
event, `client.WeComClient` talks to the server API with shared tokens, limits and typed errors, and
`host.WeComHost` implements `scrm.host.Host` on top of it; `platform.platform(runtime)` is the descriptor the app
registers.
"""
