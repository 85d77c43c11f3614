"""Region policies as data (config/policies/<name>.json): loaded, validated, compiled once.

A policy file holds its version and the day it applies from, its parameters (day counts, test
counts, default measure lengths), the words for what each colour may do, its rules (id, colour,
condition, reason and next-step wording with {placeholders}, values for them) and its own
examples. Any error names the file, the rule (or example) and the field.
"""
from __future__ import annotations

import json
import time
import string
from pathlib import Path
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from bot.domain.rules.expr import ExprError
from bot.domain.rules.predicates import MEASURE_KINDS, Compiler
from bot.domain.rules.facts import COLOURS, FACT_PATHS
from bot.domain.rules.policy import Policy, PolicyError, Rule, instant
from bot.infra.config import ROOT
from bot.infra.texts import LANGUAGES, SOURCE_LANGUAGE

POLICY_DIR = ROOT / "config" / "policies"
TRANSLATIONS = tuple(lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE)
DESIGNATED = "designated"


class RuleSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,16}$"))
    colour = fields.String(required=True)  # red / yellow / green, or "designated": the staff designation
    when = fields.Raw(load_default=None)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=120))
    next_step = fields.String(load_default="", validate=validate.Length(max=300))
    values = fields.Dict(keys=fields.String(), values=fields.Raw(), load_default=dict)
    # 国际版: the reason and next step in other languages, with the same {placeholders}
    translations = fields.Dict(keys=fields.String(validate=validate.OneOf(TRANSLATIONS)),
                               values=fields.Nested(lambda: RuleTextSchema()), load_default=dict)


class RuleTextSchema(Schema):
    class Meta:
        unknown = RAISE

    reason = fields.String(required=True, validate=validate.Length(min=1, max=240))
    next_step = fields.String(load_default="", validate=validate.Length(max=600))


def _texts_of(colours):
    return fields.Dict(keys=fields.String(validate=validate.OneOf(colours)),
                       values=fields.String(validate=validate.Length(min=2, max=300)), required=True,
                       validate=validate.Length(equal=len(colours)))


class WordingSchema(Schema):
    """What each colour may do, and in general how a yellow or red code turns green, in this
    region's words (replies, the code page and the FAQ show them)."""

    class Meta:
        unknown = RAISE

    may = _texts_of(("green", "yellow", "red"))
    to_green = _texts_of(("yellow", "red"))


class PolicyTextSchema(WordingSchema):
    """The policy's words in another language (国际版): the code's title, may and to_green."""

    code_title = fields.String(required=True, validate=validate.Length(min=2, max=40))


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
    code_title = fields.String(required=True, validate=validate.Length(min=2, max=12))  # 浙江健康码
    version = fields.String(required=True, validate=validate.Length(min=1, max=32))
    valid_from = fields.Date(required=True)
    source = fields.String(load_default="")
    features = fields.Dict(keys=fields.String(), load_default=dict)
    parameters = fields.Dict(keys=fields.String(), values=fields.Raw(), load_default=dict)
    wording = fields.Nested(WordingSchema, required=True)
    translations = fields.Dict(keys=fields.String(validate=validate.OneOf(TRANSLATIONS)),
                               values=fields.Nested(PolicyTextSchema), load_default=dict)
    rules = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1))
    examples_now = fields.String(load_default=None)
    examples = fields.List(fields.Raw(), load_default=list)


def _first_error(messages) -> str:
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        inner = _first_error(value)
        if key in ("key", "value"):  # a Dict field's entry: its key or its value is what is wrong
            return inner
        return f"{key}: {inner}" if not inner.startswith(f"{key}:") else inner
    if isinstance(messages, list):
        return str(messages[0]) if messages else "invalid"
    return str(messages)


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _check_parameter(key: str, value) -> str | None:
    """A number or a string; measure_days: whole days per measure kind."""
    if key == "measure_days":
        if not isinstance(value, dict) or set(value) != set(MEASURE_KINDS) or \
                not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value.values()):
            return f"days (a whole number above 0) for each of {', '.join(MEASURE_KINDS)}"
        return None
    if not isinstance(value, (int, float, str)) or isinstance(value, bool):
        return "must be a number or a string"
    return None


def _compile_rule(compiler: Compiler, raw_rule, index: int, where: str) -> Rule:
    rid = raw_rule.get("id", f"#{index + 1}") if isinstance(raw_rule, dict) else f"#{index + 1}"
    try:
        r = RuleSchema().load(raw_rule)
    except ValidationError as err:
        raise PolicyError(f"{where}: rule {rid}: {_first_error(err.messages)}") from None
    colour = r["colour"]
    if colour not in COLOURS and colour != DESIGNATED:
        raise PolicyError(f"{where}: rule {rid}: colour: must be red, yellow, green or designated, got {colour!r}")
    compiler.binds = set()
    when = None
    if colour == DESIGNATED:
        if r["when"] is not None:
            raise PolicyError(f"{where}: rule {rid}: when: the designated rule holds while a designation does")
    elif r["when"] is None:
        raise PolicyError(f"{where}: rule {rid}: when: Missing data for required field.")
    else:
        try:
            when = compiler.compile(r["when"], "")
        except ExprError as err:
            raise PolicyError(f"{where}: rule {rid}: when: {err}") from None
    values = {}
    for key, expr in r["values"].items():
        try:
            values[key] = compiler.compile(expr, "")
        except ExprError as err:
            raise PolicyError(f"{where}: rule {rid}: values.{key}: {err}") from None
    texts = [("", r)] + [(f"translations.{lang}.", t) for lang, t in r["translations"].items()]
    for prefix, text in texts:
        for fld in ("reason", "next_step"):
            try:
                missing = _placeholders(text[fld]) - set(values)
            except ValueError as err:
                raise PolicyError(f"{where}: rule {rid}: {prefix}{fld}: {err}") from None
            if missing:
                raise PolicyError(f"{where}: rule {rid}: {prefix}{fld}: {{{sorted(missing)[0]}}} is not in values")
    return Rule(rid, colour, when, r["reason"], r["next_step"], values, tuple(sorted(compiler.binds)),
                translations={lang: (t["reason"], t["next_step"]) for lang, t in r["translations"].items()})


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
        problem = _check_parameter(key, value)
        if problem:
            raise PolicyError(f"{where}: parameters: {key}: {problem}")
    compiler = Compiler(params, FACT_PATHS)
    rules = [_compile_rule(compiler, raw_rule, i, where) for i, raw_rule in enumerate(data["rules"])]
    if sum(r.colour == DESIGNATED for r in rules) > 1:
        raise PolicyError(f"{where}: rules: at most one rule is the designation (colour \"designated\")")
    if not any(isinstance(r, dict) and r.get("colour") == "green" and r.get("when") is True for r in data["rules"]):
        raise PolicyError(f"{where}: rules: a green rule must hold always (\"when\": true) as the default")

    examples, examples_now = [], None
    try:
        examples_now = instant(data["examples_now"]) if data["examples_now"] else None
    except ValueError:
        raise PolicyError(f"{where}: examples_now: not an ISO 8601 instant") from None
    for index, raw_ex in enumerate(data["examples"]):
        try:
            ex = ExampleSchema().load(raw_ex)
            if ex["expect"].get("colour") not in COLOURS or not ex["expect"].get("rule"):
                raise ValidationError({"expect": ["needs colour (red/yellow/green) and rule"]})
            ex["now"] = instant(ex["now"]) if ex["now"] else None
        except (ValidationError, ValueError) as err:
            msg = _first_error(err.messages) if isinstance(err, ValidationError) else f"now: {err}"
            raise PolicyError(f"{where}: example #{index + 1}: {msg}") from None
        if ex["now"] is None and examples_now is None and "now" not in ex["facts"]:
            raise PolicyError(f"{where}: example {ex['name']!r}: now: give now, facts.now or examples_now")
        examples.append(ex)
    return Policy(data["name"], data["title"], data["version"], data["valid_from"], path, params, data["features"],
                  data["wording"], rules, examples, examples_now, data["code_title"], data["translations"])


RECHECK_SECONDS = 1.0
_cache: dict[Path, tuple[float, Policy, float]] = {}  # path: (mtime, policy, when looked at)


def policy_path(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".json" or "/" in name_or_path:
        return candidate
    return POLICY_DIR / f"{name_or_path}.json"


def load_policy(name_or_path: str) -> Policy:
    """Load and compile a policy by name (config/policies/NAME.json) or path; cached per file
    version, the file looked at again once a second at most (every chat answer asks for it)."""
    path = policy_path(name_or_path)
    hit = _cache.get(path)
    if hit and time.monotonic() - hit[2] < RECHECK_SECONDS:
        return hit[1]
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        known = ", ".join(sorted(p.stem for p in POLICY_DIR.glob("*.json")))
        raise PolicyError(f"{path}: no such policy file (policies: {known})") from None
    if hit and hit[0] == mtime:
        _cache[path] = (mtime, hit[1], time.monotonic())
        return hit[1]
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise PolicyError(f"{path.name}: not valid JSON: line {err.lineno} column {err.colno}: {err.msg}") from None
    policy = compile_policy(raw, path)
    _cache[path] = (mtime, policy, time.monotonic())
    return policy
