"""WeCom's endpoints: `/wecom/cgi-bin/<api>` answers like `https://qyapi.weixin.qq.com/cgi-bin/<api>`.

Same JSON shapes, same errcodes (doc 90455), HTTP 200 even on errors. `base` holds the plumbing (`bp`, the token
check, budgets, cursors, shared lookups and shapes); each other module registers its APIs by path in `base.API`.
"""
from sandbox.wecom.endpoints import contacts, h5, transfers, ways  # noqa: F401  (register their handlers on bp)
from sandbox.wecom.endpoints.base import API, bp

__all__ = ["API", "bp"]
