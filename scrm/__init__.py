"""The core: app factory (composition root), config, models, services, domain events, JSON API and CLI.

Models, services and events import none of the sibling rooms (connectors/, callbacks/, tasks/, h5/); they state
what they need from a host as the `Host` port in `scrm.host`. Only `scrm.app` wires the rooms together.
"""
