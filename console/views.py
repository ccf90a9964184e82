"""The console's blueprint with its routes: sign-in (`console.auth`) and the pages (`console.pages`)."""
from __future__ import annotations

from console import admin, auth, customers, handovers, pages  # noqa: F401  (their routes register on the blueprint)
from console.blueprint import bp

__all__ = ["bp"]
