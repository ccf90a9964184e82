from tests.connectors.conftest import sandbox  # noqa: F401  (the host emulator on a loopback server)
