"""Celery app and thin task functions that call services.

Tasks take ids, never ORM objects, and their bodies are a few lines that call `scrm` services. Queues: `urgent`
(callbacks, welcome messages) and `bulk` (syncs, campaigns). May import scrm; only `celery_app` and `worker`
touch the composition root.
"""
