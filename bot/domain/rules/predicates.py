"""The expression language's predicates over health facts, added to its operators:

    {"negative_test_after": x}                    a negative test sampled after x (a date = its 00:00)
    {"negative_tests_after": [x, count, hours]}   `count` negative tests after x, each >= hours apart
    {"positive_test": days}                       the sampling instant of the latest positive test of
                                                  the last `days` days that no case status followed, or null
    {"measure_state": [kind, ...]}                "ongoing" / "upcoming" / "ended" / "none"
    {"case_active": [status, ...]}                a case of those statuses, not released

Each records the instants at which its answer would flip (a test's sampling, a window's end, a
measure's start and release), so reevaluate_at stays exact.
"""
from __future__ import annotations

import datetime as dt

from bot.domain.rules import expr
from bot.domain.rules.expr import ExprError, const_list, day_of, start_of
from bot.domain.vocab import CaseStatus, MeasureKind

MEASURE_KINDS = tuple(MeasureKind)
CASE_STATUSES = tuple(CaseStatus)


class Compiler(expr.Compiler):
    OPS = {**expr.Compiler.OPS, "negative_test_after": "negative_test_after",
           "negative_tests_after": "negative_tests_after", "positive_test": "positive_test",
           "measure_state": "measure_state", "case_active": "case_active"}

    def op_negative_test_after(self, op, arg, path):
        x = self.compile(arg, path)

        def negative_after(ctx):
            since = start_of(x(ctx))
            if since is None:
                return False
            return any(t["result"] == "negative" and t["sampled_at"] > since for t in ctx.tests())
        return negative_after

    def op_negative_tests_after(self, op, arg, path):
        x, count, hours = self._args(arg, path, 3)

        def enough(ctx):
            since = start_of(x(ctx))
            if since is None:
                return False
            need, gap = count(ctx), dt.timedelta(hours=hours(ctx))
            times = sorted(t["sampled_at"] for t in ctx.tests() if t["result"] == "negative" and t["sampled_at"] > since)
            got, last = 0, None
            for at in times:  # greedy: the earliest tests that keep the gap
                if last is None or at - last >= gap:
                    got, last = got + 1, at
            return got >= need
        return enough

    def op_positive_test(self, op, arg, path):
        window = self.compile(arg, path)

        def positive(ctx):
            days = window(ctx)
            case = ctx.facts.get("case")
            latest = None
            for t in ctx.tests():
                if t["result"] != "positive" or (case is not None and _case_follows(case, t)):
                    continue
                until = day_of(t["sampled_at"]) + dt.timedelta(days=days)
                ctx.flip_on(until)
                if ctx.today < until and (latest is None or t["sampled_at"] > latest):
                    latest = t["sampled_at"]
            return latest
        return positive

    def op_measure_state(self, op, arg, path):
        kinds = const_list(arg, path, MEASURE_KINDS, "measure kind")
        defaults = self.params.get("measure_days")
        if not isinstance(defaults, dict) or any(not isinstance(defaults.get(k), int) for k in MEASURE_KINDS):
            raise ExprError("needs the parameter measure_days: days per measure kind "
                            f"({', '.join(MEASURE_KINDS)}), the length of a measure declared without an end", path)

        def state(ctx):
            found = "none"
            for m in ctx.facts.get("measures") or ():
                if m["kind"] not in kinds:
                    continue
                start, stop = m["start"], measure_stop(m, defaults)
                ctx.flip_on(start)
                ctx.flip_on(stop)
                if start <= ctx.today < stop:
                    return "ongoing"
                if ctx.today < start:
                    found = "upcoming"
                elif found == "none":
                    found = "ended"
            return found
        return state

    def op_case_active(self, op, arg, path):
        statuses = const_list(arg, path, CASE_STATUSES, "case status")

        def active(ctx):
            case = ctx.facts.get("case")
            if not case or case["status"] not in statuses:
                return False
            released = case.get("released_on")
            ctx.flip_on(released)
            return released is None or ctx.today < released
        return active


def measure_stop(m: dict, defaults: dict) -> dt.date:
    """The day a measure is released: ended early, else its planned end, else the policy's
    default length from its start (every measure ends)."""
    end = m.get("end") or m["start"] + dt.timedelta(days=defaults[m["kind"]])
    ended = m.get("ended_on")
    return end if ended is None else min(end, ended)


def _case_follows(case: dict, test: dict) -> bool:
    """Staff set this case status after the test came in (so the case rules decide now)."""
    case_at, test_at = case.get("recorded_at"), test.get("recorded_at")
    if case_at is not None and test_at is not None:
        return case_at >= test_at
    since = case.get("since")
    return since is not None and since >= day_of(test["sampled_at"])
