"""Services: plain functions that own the transaction (via `scrm.db`) and take plain arguments, never `request`."""
