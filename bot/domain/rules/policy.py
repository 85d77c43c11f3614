"""A compiled region policy and its evaluation (loading and validation: bot.domain.rules.loading).

Severity first: red outranks yellow outranks green across all rules, the staff designation
included; within a colour the first listed rule names the reason.

- A rule that reads a trip (`travel.*`, `overseas.*`) holds if it holds for any trip; the
  latest such trip names the reason.
- The staff designation (the rule whose colour is "designated") covers only the facts recorded
  at or before its `made_at`: a risk fact recorded after it is evaluated on top, and the more
  severe wins. Case statuses and tests are never covered (nothing lowers what a case or a
  positive test sets; a negative test always counts).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

from bot.domain.rules.expr import Ctx, Fn
from bot.domain.rules.facts import FactsError, parse_facts
from bot.infra.config import ConfigError
from bot.infra.db import SHANGHAI
from bot.infra.texts import SOURCE_LANGUAGE, format_value

RANK = {"red": 0, "yellow": 1, "green": 2}
MAX_LOOKAHEAD = 12   # boundaries tried for reevaluate_at
MAX_GREEN_STEPS = 8  # changes followed to find when time alone turns the code green
NO_ITEM = (None,)
COVERED_LISTS = ("travel", "overseas", "measures")


class PolicyError(ConfigError, ValueError):
    pass


@dataclass(frozen=True)
class Decision:
    colour: str
    rule: str
    reason: str
    next_step: str
    reevaluate_at: dt.datetime | None
    green_at: dt.datetime | None = None  # when time alone turns the code green (None: never, or it is green)
    translated: tuple = ()  # ((language, reason, next_step), ...): the rule's translations, filled in

    @property
    def wording(self) -> dict | None:
        """The reason and next step in the other languages, as codes.wording keeps them."""
        return {lang: {"reason": r, "next_step": n} for lang, r, n in self.translated} or None

    def as_json(self) -> dict:
        return {"colour": self.colour, "rule": self.rule, "reason": self.reason, "next_step": self.next_step,
                "reevaluate_at": _iso(self.reevaluate_at), "green_at": _iso(self.green_at)}


@dataclass
class Rule:
    id: str
    colour: str          # red / yellow / green, or "designated"
    when: Fn | None
    reason: str
    next_step: str
    values: dict[str, Fn]
    binds: tuple[str, ...] = ()  # the trip lists it reads ("travel", "overseas")
    translations: dict[str, tuple[str, str]] = field(default_factory=dict)  # language: (reason, next_step)


@dataclass
class Policy:
    name: str
    title: str
    version: str
    valid_from: dt.date
    path: Path
    parameters: dict[str, Any]
    features: dict[str, Any]
    wording: dict[str, dict[str, str]]
    rules: list[Rule]  # as listed
    examples: list[dict] = field(default_factory=list)
    examples_now: dt.datetime | None = None
    code_title: str = ""  # what the code page and image are called here (the policy file's, required there)
    translations: dict[str, dict] = field(default_factory=dict)  # language: code_title, may, to_green

    def words(self, lang: str) -> dict:
        """What each colour may do, how it turns green, and the code's title, in `lang` (the
        source words where the policy has no translation)."""
        return self.translations.get(lang) or {**self.wording, "code_title": self.code_title}

    def __post_init__(self):
        self._orders = {colour: self._order(colour) for colour in (None, "red", "yellow", "green")}

    def _order(self, designated: str | None) -> list[Rule]:
        """The evaluation order when a designation of this colour is in force (None: none is):
        red, yellow, green, each in the listed order, the designation among its colour's rules."""
        keyed = []
        for index, rule in enumerate(self.rules):
            colour = designated if rule.colour == "designated" else rule.colour
            if colour is not None:
                keyed.append((RANK[colour], index, rule))
        return [rule for _, _, rule in sorted(keyed, key=lambda k: k[:2])]

    def evaluate(self, facts: dict, now: dt.datetime) -> Decision:
        """Pure: the decision for these facts at `now` (an aware datetime), with reevaluate_at:
        the first instant at which time alone changes the decision (colour, rule or wording), and
        green_at: the first at which time alone makes it green."""
        view = _view(facts)
        decision, reevaluate_at = self._at(view, now)
        green_at, at = None, reevaluate_at
        for _ in range(MAX_GREEN_STEPS):
            if decision[0] == "green" or at is None:
                break
            later, after = self._at(view, at)
            if later[0] == "green":
                green_at = at
                break
            at = after
        return Decision(*decision[:4], reevaluate_at, green_at, decision[4])

    def _at(self, view, now: dt.datetime) -> tuple[tuple, dt.datetime | None]:
        """The decision at `now` and the first later instant at which it changes."""
        decision, bounds = self._decide(view, now)
        if not bounds:
            return decision, None
        # Every time dependence goes through a recorded boundary, so the decision is constant
        # between boundaries: try them in order until one changes it.
        pending, seen = sorted(set(bounds)), set()
        for _ in range(MAX_LOOKAHEAD):
            if not pending:
                return decision, None
            at = pending.pop(0)
            seen.add(at)
            later, more = self._decide(view, at)
            if later != decision:
                return decision, at
            pending = sorted(set(pending).union(b for b in more if b not in seen))
        return decision, pending[0] if pending else None  # rare: re-check then

    def _decide(self, view, now: dt.datetime) -> tuple[tuple, list]:
        facts, covered, designation = view
        designated = None
        if designation is not None:
            until = designation.get("until")
            if until is None or now < until:
                designated, facts = designation["colour"], covered
        ctx = Ctx(facts, now)
        if designation is not None:
            ctx.flip_at(designation.get("until"))
        for rule in self._orders[designated]:
            if rule.colour == "designated":
                return (designated, rule.id, *_texts(rule, ctx)), ctx.bounds
            if not rule.binds:
                if rule.when(ctx):
                    return (rule.colour, rule.id, *_texts(rule, ctx)), ctx.bounds
                continue
            held = None
            trips = facts.get("travel") or NO_ITEM if "travel" in rule.binds else NO_ITEM
            abroad = facts.get("overseas") or NO_ITEM if "overseas" in rule.binds else NO_ITEM
            for ctx.trip, ctx.abroad in product(trips, abroad):
                if rule.when(ctx):
                    held = ctx.trip, ctx.abroad  # the latest trip for which it holds names the reason
            if held is not None:
                ctx.trip, ctx.abroad = held
                return (rule.colour, rule.id, *_texts(rule, ctx)), ctx.bounds
            ctx.trip = ctx.abroad = None
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
            got = self.evaluate(facts, now or ex["now"] or self.examples_now)
            want = ex["expect"]
            problems = []
            if got.colour != want["colour"] or got.rule != want["rule"]:
                problems.append(f"expected {want['colour']} {want['rule']}, got {got.colour} {got.rule}")
            for key in ("reevaluate_at", "green_at"):
                if key in want and (instant(want[key]) if want[key] else None) != getattr(got, key):
                    problems.append(f"expected {key} {want[key]}, got {got.as_json()[key]}")
            if problems:
                failures.append(f"example {ex['name']!r}: " + "; ".join(problems))
        return failures


def _view(facts: dict) -> tuple[dict, dict, dict | None]:
    """All the facts; those a designation in force leaves to the rules (risk facts recorded
    after its made_at; cases and tests always); the designation."""
    designation = facts.get("designation")
    if designation is None:
        return facts, facts, None
    made_at = designation.get("made_at")

    def later(item) -> bool:
        at = item.get("recorded_at")
        return made_at is not None and at is not None and at > made_at

    seen = dict(facts)
    for key in COVERED_LISTS:
        if key in seen:
            seen[key] = [item for item in seen[key] if later(item)]
    if "symptoms" in seen and not later(seen["symptoms"]):
        del seen["symptoms"]
    if seen.get("unexplained_fever") and not later({"recorded_at": seen.get("unexplained_fever_at")}):
        del seen["unexplained_fever"]
    return facts, seen, designation


def _texts(rule: Rule, ctx: Ctx) -> tuple[str, str, tuple]:
    """The reason and next step, and their translations (dates in each language's form)."""
    if not rule.values:
        return rule.reason, rule.next_step, tuple((lang, r, n) for lang, (r, n) in rule.translations.items())
    bounds = len(ctx.bounds)
    raw = {k: f(ctx) for k, f in rule.values.items()}
    del ctx.bounds[bounds:]  # wording is not a condition: it must not move reevaluate_at
    values = {k: format_value(v, SOURCE_LANGUAGE) for k, v in raw.items()}
    translated = []
    for lang, (reason, next_step) in rule.translations.items():
        in_lang = {k: format_value(v, lang) for k, v in raw.items()}
        translated.append((lang, reason.format_map(in_lang), next_step.format_map(in_lang)))
    return rule.reason.format_map(values), rule.next_step.format_map(values), tuple(translated)


def instant(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(SHANGHAI).isoformat() if value else None
