"""/api/v1/tokens: the corp's API tokens, for admin tokens only: list, create (the secret is shown once), revoke."""
from __future__ import annotations

from flask import abort, g
from flask.views import MethodView
from flask_smorest import Blueprint

from scrm.api.auth import require_token
from scrm.api.schemas import TokenCreated, TokenIn, TokenList, TokenOut
from scrm.services import access

bp = Blueprint("tokens", __name__, description="API tokens (admin only)\nzh:API 令牌（仅 admin）")
bp.before_request(require_token)


@bp.before_request
def _admin_only():
    if g.principal.role != "admin":
        abort(403, description="only an admin token manages API tokens")


@bp.route("/tokens")
class Tokens(MethodView):
    @bp.response(200, TokenList)
    def get(self):
        """List API tokens

        With role, employee, created and revoked times; never a secret.

        zh:API 令牌列表
        含角色、员工、创建和吊销时间；不含令牌本身。
        """
        return {"items": access.list_tokens(g.principal.corp)}

    @bp.arguments(TokenIn)
    @bp.response(201, TokenCreated)
    def post(self, body):
        """Create an API token

        The secret is in this answer only: only its hash is stored.

        zh:创建 API 令牌
        令牌只在本次返回中出现：系统只保存其哈希。
        """
        return access.create_token_described(g.principal.corp, body["role"], employee_id=body.get("employee_id"),
                                             label=body.get("label"))


@bp.route("/tokens/<int:token_id>", methods=["DELETE"])
@bp.response(200, TokenOut)
def revoke(token_id):
    """Revoke an API token

    It is refused from now on; the row stays, with its revoked time.

    zh:吊销 API 令牌
    此后该令牌被拒绝；记录保留，并带有吊销时间。
    """
    return access.revoke_token(g.principal.corp, token_id)
