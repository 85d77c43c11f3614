"""Region policies as data (config/policies/<name>.json): loaded, validated, compiled once.

A policy file holds its parameters (day counts, test counts), its rules (id, colour, condition,
reason and next-step wording with {placeholders}, values for them) and its own examples. Any
error names the file, the rule (or example) and the field.
"""
from __future__ import annotations

import datetime as dt
import json
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from bot.db import SHANGHAI
from bot.rules.expr import Compiler, Ctx, ExprError, Fn
from bot.rules.facts import COLOURS, FACT_PATHS, FactsError, parse_facts
from bot.settings import ROOT, ConfigError

POLICY_DIR = ROOT / "config" / "policies"
RANK = {"red": 0, "yellow": 1, "green": 2}
MAX_LOOKAHEAD = 12


class PolicyError(ConfigError, ValueError):
    pass


class RuleSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,16}$"))
    colour = fields.Raw(required=True)
    when = fields.Raw(required=True)
    override = fields.Boolean(load_default=False)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=120))
    next_step = fields.String(load_default="", validate=validate.Length(max=300))
    values = fields.Dict(keys=fields.String(), values=fields.Raw(), load_default=dict)


class ExampleSchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True)
    now = fields.String(load_default=None)
    facts = fields.Dict(required=True)
    expect = fields.Dict(required=True)


class PolicySchema(Schema):
    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,63}$"))
    title = fields.String(required=True)
    source = fields.String(load_default="")
    features = fields.Dict(keys=fields.String(), load_default=dict)
    parameters = fields.Dict(keys=fields.String(), values=fields.Raw(), load_default=dict)
    rules = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1))
    examples_now = fields.String(load_default=None)
    examples = fields.List(fields.Raw(), load_default=list)


@dataclass(frozen=True)
class Decision:
    colour: str
    rule: str
    reason: str
    next_step: str
    reevaluate_at: dt.datetime | None

    def as_json(self) -> dict:
        return {"colour": self.colour, "rule": self.rule, "reason": self.reason, "next_step": self.next_step,
                "reevaluate_at": self.reevaluate_at.astimezone(SHANGHAI).isoformat() if self.reevaluate_at else None}


@dataclass
class Rule:
    id: str
    colour: str | Fn
    when: Fn
    override: bool
    reason: str
    next_step: str
    values: dict[str, Fn]
    rank: int


@dataclass
class Policy:
    name: str
    title: str
    path: Path
    parameters: dict[str, Any]
    features: dict[str, Any]
    rules: list[Rule]  # in evaluation order: overrides, then red, yellow, green (stable)
    examples: list[dict] = field(default_factory=list)
    examples_now: dt.datetime | None = None

    def evaluate(self, facts: dict, now: dt.datetime) -> Decision:
        """Pure: the decision for these facts at `now` (an aware datetime), with reevaluate_at:
        the first instant at which time alone changes the decision (colour, rule or wording)."""
        decision, bounds = self._decide(facts, now)
        if not bounds:
            return Decision(*decision, None)
        # Every time dependence goes through a recorded boundary, so the decision is constant
        # between boundaries: try them in order until one changes it.
        pending, seen = sorted(set(bounds)), set()
        for _ in range(MAX_LOOKAHEAD):
            if not pending:
                return Decision(*decision, None)
            at = pending.pop(0)
            seen.add(at)
            later, more = self._decide(facts, at)
            if later != decision:
                return Decision(*decision, at)
            pending = sorted(set(pending).union(b for b in more if b not in seen))
        return Decision(*decision, pending[0] if pending else None)  # rare: re-check then

    def _decide(self, facts: dict, now: dt.datetime) -> tuple[tuple, list]:
        ctx = Ctx(facts, now)
        for rule in self.rules:
            if rule.when(ctx):
                colour = rule.colour(ctx) if callable(rule.colour) else rule.colour
                reason, next_step = _texts(rule, ctx)
                return (colour, rule.id, reason, next_step), ctx.bounds
        raise PolicyError(f"{self.path.name}: no rule held (a policy must end with an unconditional green rule)")

    def check_examples(self) -> list[str]:
        """Run the file's own examples; returns the failures, one line each."""
        failures = []
        for ex in self.examples:
            try:
                facts, now = parse_facts(ex["facts"])
            except FactsError as err:
                failures.append(f"example {ex['name']!r}: facts: {err}")
                continue
            now = now or ex["now"] or self.examples_now
            got = self.evaluate(facts, now)
            want = ex["expect"]
            problems = []
            if got.colour != want["colour"] or got.rule != want["rule"]:
                problems.append(f"expected {want['colour']} {want['rule']}, got {got.colour} {got.rule}")
            if "reevaluate_at" in want:
                expected = _instant(want["reevaluate_at"]) if want["reevaluate_at"] else None
                if expected != got.reevaluate_at:
                    problems.append(f"expected reevaluate_at {want['reevaluate_at']}, got "
                                    f"{got.as_json()['reevaluate_at']}")
            if problems:
                failures.append(f"example {ex['name']!r}: " + "; ".join(problems))
        return failures


FORMATS = json.loads((ROOT / "config" / "formats.json").read_text(encoding="utf-8"))


def format_value(value) -> str:
    """Dates and instants as users read them (config/formats.json), Asia/Shanghai."""
    if isinstance(value, dt.datetime):
        local = value.astimezone(SHANGHAI)
        return FORMATS["datetime"].format(year=local.year, month=local.month, day=local.day, hour=local.hour,
                                          minute=local.minute)
    if isinstance(value, dt.date):
        return FORMATS["date"].format(year=value.year, month=value.month, day=value.day)
    return "" if value is None else str(value)


def _texts(rule: Rule, ctx: Ctx) -> tuple[str, str]:
    if not rule.values:
        return rule.reason, rule.next_step
    bounds = len(ctx.bounds)
    values = {k: format_value(f(ctx)) for k, f in rule.values.items()}
    del ctx.bounds[bounds:]  # wording is not a condition: it must not move reevaluate_at
    return rule.reason.format_map(values), rule.next_step.format_map(values)


def _instant(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value


def _first_error(messages) -> str:
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        inner = _first_error(value)
        return f"{key}: {inner}" if not inner.startswith(f"{key}:") else inner
    if isinstance(messages, list):
        return str(messages[0]) if messages else "invalid"
    return str(messages)


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def compile_policy(raw: Any, path: Path) -> Policy:
    where = path.name
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: a policy is a JSON object")
    try:
        data = PolicySchema().load(raw)
    except ValidationError as err:
        raise PolicyError(f"{where}: {_first_error(err.messages)}") from None
    if path.suffix == ".json" and path.stem != data["name"]:
        raise PolicyError(f"{where}: name: must match the file name ({path.stem!r}), got {data['name']!r}")
    params = data["parameters"]
    for key, value in params.items():
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            raise PolicyError(f"{where}: parameters: {key}: must be a number or a string")
    compiler = Compiler(params, FACT_PATHS)
    rules = []
    for index, raw_rule in enumerate(data["rules"]):
        rid = raw_rule.get("id", f"#{index + 1}") if isinstance(raw_rule, dict) else f"#{index + 1}"
        try:
            r = RuleSchema().load(raw_rule)
        except ValidationError as err:
            raise PolicyError(f"{where}: rule {rid}: {_first_error(err.messages)}") from None
        try:
            when = compiler.compile(r["when"], "")
        except ExprError as err:
            raise PolicyError(f"{where}: rule {rid}: when: {err}") from None
        colour = r["colour"]
        if isinstance(colour, str):
            if colour not in COLOURS:
                raise PolicyError(f"{where}: rule {rid}: colour: must be red, yellow, green or an expression, "
                                  f"got {colour!r}")
            rank = RANK[colour]
        else:
            if not r["override"]:
                raise PolicyError(f"{where}: rule {rid}: colour: a computed colour needs \"override\": true")
            try:
                colour = compiler.compile(colour, "")
            except ExprError as err:
                raise PolicyError(f"{where}: rule {rid}: colour: {err}") from None
            rank = -1
        values = {}
        for key, expr in r["values"].items():
            try:
                values[key] = compiler.compile(expr, "")
            except ExprError as err:
                raise PolicyError(f"{where}: rule {rid}: values.{key}: {err}") from None
        for fld in ("reason", "next_step"):
            try:
                missing = _placeholders(r[fld]) - set(values)
            except ValueError as err:
                raise PolicyError(f"{where}: rule {rid}: {fld}: {err}") from None
            if missing:
                raise PolicyError(f"{where}: rule {rid}: {fld}: {{{sorted(missing)[0]}}} is not in values")
        rules.append(Rule(rid, colour, when, r["override"], r["reason"], r["next_step"], values,
                          -1 if r["override"] else rank))
    if not any(isinstance(r, dict) and r.get("colour") == "green" and r.get("when") is True for r in data["rules"]):
        raise PolicyError(f"{where}: rules: a green rule must hold always (\"when\": true) as the default")
    rules.sort(key=lambda r: r.rank)  # stable: within a colour, the listed order names the reason

    examples, examples_now = [], None
    try:
        examples_now = _instant(data["examples_now"]) if data["examples_now"] else None
    except ValueError:
        raise PolicyError(f"{where}: examples_now: not an ISO 8601 instant") from None
    for index, raw_ex in enumerate(data["examples"]):
        try:
            ex = ExampleSchema().load(raw_ex)
            if ex["expect"].get("colour") not in COLOURS or not ex["expect"].get("rule"):
                raise ValidationError({"expect": ["needs colour (red/yellow/green) and rule"]})
            ex["now"] = _instant(ex["now"]) if ex["now"] else None
        except (ValidationError, ValueError) as err:
            msg = _first_error(err.messages) if isinstance(err, ValidationError) else f"now: {err}"
            raise PolicyError(f"{where}: example #{index + 1}: {msg}") from None
        if ex["now"] is None and examples_now is None and "now" not in ex["facts"]:
            raise PolicyError(f"{where}: example {ex['name']!r}: now: give now, facts.now or examples_now")
        examples.append(ex)
    return Policy(data["name"], data["title"], path, params, data["features"], rules, examples, examples_now)


_cache: dict[Path, tuple[float, Policy]] = {}


def policy_path(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".json" or "/" in name_or_path:
        return candidate
    return POLICY_DIR / f"{name_or_path}.json"


def load_policy(name_or_path: str) -> Policy:
    """Load and compile a policy by name (config/policies/NAME.json) or path; cached per file version."""
    path = policy_path(name_or_path)
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        known = ", ".join(sorted(p.stem for p in POLICY_DIR.glob("*.json")))
        raise PolicyError(f"{path}: no such policy file (policies: {known})") from None
    hit = _cache.get(path)
    if hit and hit[0] == mtime:
        return hit[1]
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise PolicyError(f"{path.name}: not valid JSON: line {err.lineno} column {err.colno}: {err.msg}") from None
    policy = compile_policy(raw, path)
    _cache[path] = (mtime, policy)
    return policy
