import threading

import pytest
from werkzeug.serving import make_server

from tests.connectors.conftest import sandbox  # noqa: F401  (the host emulator on a loopback server)


@pytest.fixture
def serve():
    """Serve a product app on a free loopback port (the sandbox delivers callbacks to it over real HTTP)."""
    servers = []

    def start(app) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
