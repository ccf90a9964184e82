"""/api/v1/handovers and /api/v1/pool: departed and on-job handovers (plan, preview, start, progress) and the
customer pool (list, claim)."""
from __future__ import annotations

from flask import g
from flask.views import MethodView
from marshmallow import RAISE, fields, validate

from scrm.api.auth import require_token
from scrm.api.parsing import Blueprint
from scrm.api.schemas import Id, Strict
from scrm.models import HANDOVER_KINDS, LINE_STATES, POOL_REASONS
from scrm.services import handover_desk

bp = Blueprint("handovers", __name__, description="Handovers of departed and current employees' customers, and the "
                                                  "customer pool\nzh:离职继承、在职继承与公海")
bp.before_request(require_token)


class HandoverIn(Strict):
    kind = fields.Str(required=True, validate=validate.OneOf(HANDOVER_KINDS))
    from_employee_id = Id(required=True)
    to_employee_ids = fields.List(Id(), required=True, validate=validate.Length(min=1, max=100))
    split = fields.Str(load_default="even", validate=validate.OneOf(["even", "load"]),
                       metadata={"description": "even: round robin; load: to whoever follows the fewest customers"})
    customer_ids = fields.List(Id(), validate=validate.Length(min=1, max=100_000),
                               metadata={"description": "default: all of the employee's customers"})
    group_chat_ids = fields.List(Id(), validate=validate.Length(max=10_000),
                                 metadata={"description": "default: all of their chats (none when customer_ids "
                                                          "is given)"})
    message = fields.Str(validate=validate.Length(min=1, max=200),
                         metadata={"description": "on-job: the message the customer receives"})
    reason = fields.Str(validate=validate.Length(max=255))


class DryRun(Strict):
    dry_run = fields.Bool(load_default=False)


class Listing(Strict):
    limit = fields.Int(load_default=50, validate=validate.Range(min=1, max=200))
    before = Id()


class LineQuery(Strict):
    state = fields.Str(validate=validate.OneOf(LINE_STATES))
    limit = fields.Int(load_default=500, validate=validate.Range(min=1, max=5000))
    after = Id(metadata={"description": "the last line id of the previous page (the answer's `next`)"})


class PoolQuery(Strict):
    limit = fields.Int(load_default=50, validate=validate.Range(min=1, max=200))
    after = Id()
    reason = fields.Str(validate=validate.OneOf(POOL_REASONS))


class ClaimIn(Strict):
    employee_id = Id(metadata={"description": "admins and managers: who claims (sales claim for themselves)"})


@bp.route("/handovers/unassigned", methods=["GET"])
def unassigned():
    """Departed employees still to hand over

    Each departed employee with the customers (the host's unassigned list on WeCom) and group chats still to hand
    over. Admins and managers.

    zh:待分配的离职成员
    每位离职成员仍待继承的客户（企业微信以其待分配列表为准）和客户群，返回 `{"items": [...]}`。管理员和部门负责人可用。
    """
    return handover_desk.unassigned(g.principal)


@bp.route("/handovers")
class Handovers(MethodView):
    @bp.arguments(Listing, location="query", unknown=RAISE)
    def get(self, args):
        """List handovers

        Newest first, with their counts per state; `before` pages on.

        zh:继承任务列表
        按时间倒序，返回 `{"items": [...]}`，附各状态数量；用 `before` 翻页。
        """
        return handover_desk.list_all(g.principal, limit=args["limit"], before=args.get("before"))

    @bp.arguments(DryRun, location="query", unknown=RAISE)
    @bp.arguments(HandoverIn)
    def post(self, query, body):
        """Plan a handover

        Splits the employee's customers and group chats among the takers and answers 201 with the plan (who gets
        whom); `?dry_run=1` only previews (200) and stores nothing. Nothing is sent before `start`.

        zh:创建继承任务
        把该成员的客户和客户群分配给接替成员，返回 201 和分配方案；`?dry_run=1` 只预览（200），不保存。调用 start
        之前不会发送任何请求。
        """
        plan = handover_desk.create(g.principal, body, dry_run=query["dry_run"])
        return plan, 200 if query["dry_run"] else 201


@bp.route("/handovers/<int:handover_id>", methods=["GET"])
@bp.arguments(LineQuery, location="query", unknown=RAISE)
def show(args, handover_id):
    """A handover's progress

    Counts per state and each line (customer or group chat) with its state, errcode and what told us; `state`
    keeps one state, `limit` and `after` page the lines (`next`).

    zh:继承任务进度
    返回各状态数量，以及每个客户或客户群的状态、错误码和状态来源；`state` 按状态筛选，`limit` 和 `after` 分页（`next`）。
    """
    return handover_desk.show(g.principal, handover_id, state=args.get("state"), limit=args["limit"],
                              after=args.get("after"))


@bp.route("/handovers/<int:handover_id>/start", methods=["POST"])
def start(handover_id):
    """Start a handover

    Sends the transfers on the bulk queue; starting it again changes nothing. Answers 202 with its summary.

    zh:开始继承
    在后台队列中发送转接请求；重复调用不会重复发送。返回 202 和任务摘要。
    """
    return handover_desk.start(g.principal, handover_id), 202


@bp.route("/pool", methods=["GET"])
@bp.arguments(PoolQuery, location="query", unknown=RAISE)
def pool(args):
    """The customer pool

    Customers nobody follows any more, whose follower left, or whom a corp rule put back; newest first.

    zh:公海客户
    无人跟进、跟进人已离职或按规则回收的客户，按时间倒序，返回 `{"items", "total", "next"}`。
    """
    return handover_desk.pool_entries(g.principal, limit=args["limit"], after=args.get("after"),
                                      reason=args.get("reason"))


@bp.route("/pool/<int:customer_id>/claim", methods=["POST"])
@bp.arguments(ClaimIn)
def claim(body, customer_id):
    """Claim a customer from the pool

    Within the corp's daily number per employee; when someone still follows the customer on the host, the claim
    starts the handover to the claimant. Answers 201.

    zh:从公海领取客户
    每人每天有领取上限；如果客户在企业微信上仍有跟进人，领取会发起转接给领取人。返回 201。
    """
    return handover_desk.claim(g.principal, customer_id, body.get("employee_id")), 201
