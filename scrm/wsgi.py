"""WSGI entry for gunicorn: `gunicorn scrm.wsgi:app`."""
from scrm.app import create_app

app = create_app()
