"""A small JsonLogic-style expression language, compiled once into Python closures.

    {"var": "travel.arrival"}                     a fact (dates and instants already parsed)
    {"var": "today"} / {"var": "now"}             the evaluation's calendar day / instant
    {"param": "red_days"}                         a policy parameter (a constant after compiling)
    {"and": [...]}, {"or": [...]}, {"not": x}
    {"==": [a, b]}, {"!=": [a, b]}, {"in": [a, [..]]}, {"<": [a, b]}, "<=", ">", ">="
    {"plus_days": [date, n]}                      a date n days later (null stays null)
    {"plus_hours": [day or instant, n]}           an instant n hours later (a date = its 00:00);
    {"minus_hours": [day or instant, n]}          or earlier
    {"later_of": [a, b, ...]}                     the latest of the dates given (nulls skipped)
    and the predicates over health facts (tests, measures, cases): bot.domain.rules.predicates

Trips: `travel` and `overseas` are lists. A rule that reads `travel.*` (or `overseas.*`) is
evaluated once per trip with that trip bound (the policy engine does the looping), so every
trip counts and the most severe wins. `overseas_arrival` is `overseas.arrival`.

Tests sampled after `now` are not read yet (they count from their sampling instant on).

Time: every comparison with today/now, and every predicate that reads dates, records the instant
at which its answer would flip. The engine keeps the earliest one after `now`: reevaluate_at.
A date flips at its 00:00 Asia/Shanghai.
"""
from __future__ import annotations

import datetime as dt
import operator
from typing import Any, Callable

from bot.infra.db import SHANGHAI

Fn = Callable[["Ctx"], Any]
DAY = dt.timedelta(days=1)
TICK = dt.timedelta(microseconds=1)


class ExprError(ValueError):
    """A malformed expression; `path` says where inside it."""

    def __init__(self, message: str, path: str = ""):
        super().__init__(f"{path}: {message}" if path else message)


class Ctx:
    __slots__ = ("facts", "today", "now", "bounds", "trip", "abroad")

    def __init__(self, facts: dict, now: dt.datetime):
        self.facts = facts
        self.now = now
        self.today = now.astimezone(SHANGHAI).date()
        self.bounds: list[dt.datetime] = []
        self.trip: dict | None = None     # the travel item a rule is evaluated for
        self.abroad: dict | None = None   # the overseas arrival likewise

    def flip_on(self, day: dt.date | None) -> None:
        """The answer may change at the start of `day`."""
        if day is not None and day > self.today:
            self.bounds.append(dt.datetime.combine(day, dt.time(), SHANGHAI))

    def flip_at(self, instant: dt.datetime | None) -> None:
        if instant is not None and instant > self.now:
            self.bounds.append(instant)

    def tests(self):
        """The tests sampled by now; a later one counts from its sampling on."""
        for t in self.facts.get("tests") or ():
            if t["sampled_at"] > self.now:
                self.flip_at(t["sampled_at"])
            else:
                yield t


def start_of(value) -> dt.datetime | None:
    """A date means its first instant (Asia/Shanghai); an instant is itself."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time(), SHANGHAI)


def day_of(value) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.astimezone(SHANGHAI).date()
    return value


COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
# today OP x flips when today reaches x (< and >=) or the day after x (<= and >)
FLIP_DAY = {"<": 0, ">=": 0, "<=": 1, ">": 1}
MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
SPECIAL_VARS = ("today", "now")
# list facts a rule is evaluated per item of: path prefix -> Ctx slot
BOUND = {"travel": "trip", "overseas": "abroad"}
ALIASES = {"overseas_arrival": "overseas.arrival"}


class Compiler:
    """The language's own operators; bot.domain.rules.predicates adds those that read health facts."""

    OPS = {
        "var": "var", "param": "param", "and": "and", "or": "or", "not": "not", "!": "not",
        "==": "eq", "!=": "eq", "in": "in", "<": "compare", "<=": "compare", ">": "compare", ">=": "compare",
        "plus_days": "plus_days", "plus_hours": "plus_hours", "minus_hours": "plus_hours", "later_of": "later_of",
    }

    def __init__(self, params: dict[str, Any], fact_paths: set[str]):
        self.params = params
        self.fact_paths = fact_paths
        self.binds: set[str] = set()  # the list facts the expressions compiled so far read

    def compile(self, node, path: str = "") -> Fn:
        if isinstance(node, (str, int, float, bool)) or node is None:
            return lambda ctx, v=node: v
        if isinstance(node, list):
            items = [self.compile(n, f"{path}[{i}]") for i, n in enumerate(node)]
            if all(_is_literal(n) for n in node):
                frozen = tuple(node)
                return lambda ctx: frozen
            return lambda ctx: [f(ctx) for f in items]
        if not isinstance(node, dict) or len(node) != 1:
            raise ExprError("an expression is a literal, a list, or an object with exactly one operator", path)
        (op, arg), = node.items()
        method = getattr(self, "op_" + self.OPS.get(op, "unknown"))
        return method(op, arg, f"{path}.{op}" if path else op)

    # -- operators ---------------------------------------------------------------------------
    def op_unknown(self, op, arg, path):
        raise ExprError(f"unknown operator {op!r} (known: {', '.join(sorted(self.OPS))})", path)

    def op_var(self, op, arg, path):
        if not isinstance(arg, str) or not arg:
            raise ExprError("var takes a fact path like \"travel.arrival\"", path)
        if arg == "today":
            return _today
        if arg == "now":
            return _now
        if arg not in self.fact_paths:
            raise ExprError(f"unknown fact {arg!r} (known: {', '.join(sorted(self.fact_paths))})", path)
        arg = ALIASES.get(arg, arg)
        keys = arg.split(".")
        if keys[0] in BOUND:
            self.binds.add(keys[0])
            slot = BOUND[keys[0]]
            if len(keys) == 1:
                return lambda ctx: getattr(ctx, slot)
            k = keys[1]

            def bound(ctx):
                item = getattr(ctx, slot)
                return None if item is None else item.get(k)
            return bound
        if len(keys) == 1:
            k = keys[0]
            return lambda ctx: ctx.facts.get(k)
        k1, k2 = keys

        def get(ctx):
            outer = ctx.facts.get(k1)
            return None if outer is None else outer.get(k2)
        return get

    def op_param(self, op, arg, path):
        if arg not in self.params:
            raise ExprError(f"unknown parameter {arg!r} (defined: {', '.join(sorted(self.params)) or 'none'})", path)
        value = self.params[arg]
        return lambda ctx: value

    def _args(self, arg, path, n=None):
        if not isinstance(arg, list) or (n is not None and len(arg) != n):
            raise ExprError(f"takes a list of {n} arguments" if n else "takes a list of arguments", path)
        return [self.compile(a, f"{path}[{i}]") for i, a in enumerate(arg)]

    def op_and(self, op, arg, path):
        fs = self._args(arg, path)
        return lambda ctx: all(f(ctx) for f in fs)

    def op_or(self, op, arg, path):
        fs = self._args(arg, path)
        return lambda ctx: any(f(ctx) for f in fs)

    def op_not(self, op, arg, path):
        f = self.compile(arg, path)
        return lambda ctx: not f(ctx)

    def op_eq(self, op, arg, path):
        a, b = self._args(arg, path, 2)
        if op == "==":
            return lambda ctx: a(ctx) == b(ctx)
        return lambda ctx: a(ctx) != b(ctx)

    def op_in(self, op, arg, path):
        a, b = self._args(arg, path, 2)
        return lambda ctx: a(ctx) in (b(ctx) or ())

    def op_compare(self, op, arg, path):
        if not isinstance(arg, list) or len(arg) != 2:
            raise ExprError("takes a list of 2 arguments", path)
        left, right = arg
        if _is_var(right, SPECIAL_VARS) and not _is_var(left, SPECIAL_VARS):
            left, right, op = right, left, MIRROR[op]  # keep today/now on the left
        a, b = self.compile(left, f"{path}[0]"), self.compile(right, f"{path}[1]")
        cmp = COMPARE[op]
        if _is_var(left, ("today",)):
            shift = FLIP_DAY[op]

            def compare_today(ctx):
                other = b(ctx)
                if other is None:
                    return False
                if not isinstance(other, dt.date) or isinstance(other, dt.datetime):
                    raise TypeError(f"{path}: today compared with {other!r}, not a date")
                ctx.flip_on(other + DAY if shift else other)
                return cmp(ctx.today, other)
            return compare_today
        if _is_var(left, ("now",)):
            after = op in ("<=", ">")

            def compare_now(ctx):
                other = start_of(b(ctx))
                if other is None:
                    return False
                ctx.flip_at(other + TICK if after else other)
                return cmp(ctx.now, other)
            return compare_now

        def compare(ctx):
            x, y = a(ctx), b(ctx)
            if x is None or y is None:
                return False
            if isinstance(x, dt.date) and isinstance(y, dt.date) and (isinstance(x, dt.datetime) != isinstance(y, dt.datetime)):
                x, y = start_of(x), start_of(y)
            return cmp(x, y)
        return compare

    def op_plus_days(self, op, arg, path):
        d, n = self._args(arg, path, 2)

        def plus(ctx):
            day, days = d(ctx), n(ctx)
            return None if day is None else day + dt.timedelta(days=days)
        return plus

    def op_plus_hours(self, op, arg, path):
        d, n = self._args(arg, path, 2)
        sign = -1 if op == "minus_hours" else 1

        def plus(ctx):
            at = start_of(d(ctx))
            return None if at is None else at + dt.timedelta(hours=sign * n(ctx))
        return plus

    def op_later_of(self, op, arg, path):
        fs = self._args(arg, path)
        if not fs:
            raise ExprError("takes a list of dates", path)

        def later(ctx):
            values = [v for v in (f(ctx) for f in fs) if v is not None]
            return max(values) if values else None
        return later

def _today(ctx):
    return ctx.today


def _now(ctx):
    return ctx.now


def _is_literal(node) -> bool:
    return isinstance(node, (str, int, float, bool)) or node is None


def _is_var(node, names) -> bool:
    return isinstance(node, dict) and node.get("var") in names and len(node) == 1


def const_list(arg, path, allowed, what) -> frozenset:
    if not isinstance(arg, list) or not arg or not all(isinstance(a, str) for a in arg):
        raise ExprError(f"takes a list of {what}s", path)
    bad = [a for a in arg if a not in allowed]
    if bad:
        raise ExprError(f"unknown {what} {bad[0]!r} (known: {', '.join(sorted(allowed))})", path)
    return frozenset(arg)
