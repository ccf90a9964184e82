"""Entry point for `celery -A tasks.worker:celery` (what `scrm worker` and `scrm beat` run)."""
from scrm.app import create_app

app = create_app()
celery = app.extensions["celery"]
