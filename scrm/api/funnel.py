"""/api/v1/funnel: the sales funnel of the customers a token may see, from the stage history."""
from __future__ import annotations

from flask import g
from marshmallow import RAISE

from scrm.api.auth import require_token
from scrm.api.parsing import Blueprint
from scrm.api.schemas import FunnelOut, FunnelQuery
from scrm.services import funnel as funnels

bp = Blueprint("funnel", __name__, description="The sales funnel over the customers' stages\nzh:销售漏斗（按客户阶段）")
bp.before_request(require_token)


@bp.route("/funnel", methods=["GET"])
@bp.arguments(FunnelQuery, location="query", unknown=RAISE)
@bp.response(200, FunnelOut)
def funnel(args):
    """The sales funnel

    Per stage of the corp, in order: customers in it now, customers who ever reached it or a later step (`lost` is
    a way out, not a step: its `reached` is the customers ever lost), the conversion from the previous step and the
    median seconds of the completed stays in it; with totals. Over the customers the token sees, narrowed by
    `channel_id`, `employee_id`, `department_id` (with the departments below it) and `from` / `to` (customers with
    a relationship added in those local days). Another corp's ids answer 404.

    zh:销售漏斗
    按企业的阶段顺序返回每个阶段：当前处于该阶段的客户数、曾到达该阶段或其后阶段的客户数（`lost` 是离开漏斗而非一个步骤，
    其 `reached` 为曾流失的客户数）、相对上一步的转化率、在该阶段已结束停留的时长中位数（秒），以及合计。范围为令牌可见的客户，
    可按 `channel_id`、`employee_id`、`department_id`（含下级部门）和 `from` / `to`（在这些本地日期内添加了跟进关系的客户）筛选。
    其他企业的 id 返回 404。
    """
    return funnels.funnel(g.principal, channel_id=args.get("channel_id"), employee_id=args.get("employee_id"),
                          department_id=args.get("department_id"), start=args["from_"], end=args["to"])
