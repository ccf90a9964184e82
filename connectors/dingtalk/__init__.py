"""DingTalk (internal app): callback crypto, event parser, a thin `requests` client (oapi and v1.0) and the Host.

DingTalk has no contact-way or add-customer callback for internal apps; what it cannot do raises HostUnsupported.
"""
