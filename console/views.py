"""The console's blueprint with its routes: sign-in (`console.auth`) and the pages (`console.pages`)."""
from __future__ import annotations

from console import auth, pages  # noqa: F401  (their routes register on the blueprint)
from console import admin, handovers  # noqa: F401  (handovers, the pool, API tokens, the corp)
from console.blueprint import bp

__all__ = ["bp"]
