"""/api/v1/welcome-deliveries: did a customer get the welcome, and if not, why (scoped like the customers)."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from marshmallow import RAISE

from scrm.api.auth import require_token
from scrm.api.parsing import Blueprint
from scrm.api.schemas import WelcomeDeliveryPage, WelcomeDeliveryQuery
from scrm.services import welcome_log

bp = Blueprint("welcome_deliveries", __name__, description="Welcome messages: what was sent, and why not\n"
                                                            "zh:欢迎语发送记录：发了什么，没发成的原因")
bp.before_request(require_token)


@bp.route("/welcome-deliveries")
class WelcomeDeliveryList(MethodView):
    @bp.arguments(WelcomeDeliveryQuery, location="query", unknown=RAISE)
    @bp.response(200, WelcomeDeliveryPage)
    def get(self, args):
        """List welcome deliveries, newest first

        Customer, employee, channel, status, the host's reason in words, and the latency from callback to send.

        zh:欢迎语发送记录（最新在前）
        客户、员工、渠道、状态、平台给出的原因，以及从回调到发送的耗时。
        """
        filters = {("from" if k == "from_" else k): v for k, v in args.items() if k not in ("limit", "after")}
        return welcome_log.search(g.principal, filters, limit=args["limit"], after=args.get("after"))
