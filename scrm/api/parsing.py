"""How the API reads its input: flask-smorest's Blueprint with a parser that refuses JSON nested past Python's
recursion limit as a bad request (json.loads raises RecursionError there, which is no ValueError), and integer
path ids bounded by the database's BIGINT (a larger id names nothing: 404 at routing)."""
from __future__ import annotations

import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request
from werkzeug.routing import IntegerConverter

from scrm.models.base import MAX_ID


class Parser(FlaskParser):
    def _raw_load_json(self, req):
        if not is_json_request(req):
            return core.missing
        try:
            return core.parse_json(req.get_data(cache=True))
        except RecursionError:
            abort(400, messages={"json": ["JSON nested too deeply."]})


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()


class IdConverter(IntegerConverter):
    """`<int:...>` in the API's routes: a positive id a BIGINT can hold."""

    def __init__(self, map, fixed_digits=0, min=1, max=MAX_ID, signed=False):  # noqa: A002 (werkzeug's names)
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
