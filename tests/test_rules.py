"""The rules engine: every policy's own examples (rules.md's among them, every rule on both
sides of its boundary days), and clear errors for broken policies and bad facts."""
import copy
import datetime as dt
import json
import os
import subprocess
import sys
import uuid

import pytest

from bot.infra.db import SHANGHAI
from bot.domain.rules.facts import FactsError, parse_facts
from bot.domain.rules.loading import POLICY_DIR, PolicyError, compile_policy, load_policy
from tests.conftest import ROOT

POLICIES = ("zhejiang", "guangxi-hechi", "yunnan")
NOW = dt.datetime(2026, 11, 22, 10, tzinfo=SHANGHAI)


def all_examples():
    for name in POLICIES:
        for ex in load_policy(name).examples:
            yield pytest.param(name, ex, id=f"{name}: {ex['name']}")


@pytest.mark.parametrize("name, example", list(all_examples()))
def test_policy_examples(name, example):
    policy = load_policy(name)
    facts, now = parse_facts(example["facts"])
    got = policy.evaluate(facts, now or example["now"] or policy.examples_now)
    assert (got.colour, got.rule) == (example["expect"]["colour"], example["expect"]["rule"])
    for key in ("reevaluate_at", "green_at"):
        if key in example["expect"]:
            want = example["expect"][key]
            assert got.as_json()[key] == (dt.datetime.fromisoformat(want).isoformat() if want else None), key
    assert got.reason and "{" not in got.reason + got.next_step


def holds_somewhere(policy, rule, facts, now) -> bool:
    """Whether this rule entry's condition holds for these facts under some trip binding."""
    from itertools import product

    from bot.domain.rules.expr import Ctx

    ctx = Ctx(facts, now)
    trips = facts.get("travel") or [None]
    abroad = facts.get("overseas") or [None]
    for ctx.trip, ctx.abroad in product(trips, abroad):
        if rule.when(ctx):
            return True
    return False


@pytest.mark.parametrize("name", POLICIES)
def test_every_rule_entry_has_examples(name):
    """Each listed rule (several may share an id, as Z1 and its recovery period) decides at least
    one example, and its condition is false in at least one example (it has a boundary)."""
    policy = load_policy(name)
    decided = {(ex["expect"]["rule"], ex["expect"]["colour"]) for ex in policy.examples}
    parsed = [(parse_facts(ex["facts"])[0], ex["now"] or policy.examples_now, ex) for ex in policy.examples]
    for rule in policy.rules:
        if rule.colour == "designated":
            assert {c for r, c in decided if r == rule.id} == {"red", "yellow", "green"}, name
            continue
        holding = [ex for facts, now, ex in parsed if holds_somewhere(policy, rule, facts, now)
                   and ex["expect"]["rule"] == rule.id]
        assert holding, f"{name}: no example decided by {rule.id} {rule.colour} ({rule.reason})"
        if rule.colour != "green":  # the green default holds always
            assert any(not holds_somewhere(policy, rule, facts, now) for facts, now, _ in parsed)


RULES_MD = [  # the table at the end of rules.md, verbatim
        ("zhejiang", {"symptoms": {"present": False, "declared_at": "2026-11-22T08:00:00+08:00"}}, "green", "Z11"),
        ("zhejiang", {"symptoms": {"present": True, "declared_at": "2026-11-21T09:00:00+08:00"}}, "yellow", "Z8"),
        ("zhejiang", {"symptoms": {"present": True, "declared_at": "2026-11-21T09:00:00+08:00"},
                      "tests": [{"sampled_at": "2026-11-21T18:00:00+08:00", "result": "negative"}]}, "green", "Z11"),
        ("zhejiang", {"overseas_arrival": "2026-11-15"}, "red", "Z4"),
        ("zhejiang", {"overseas_arrival": "2026-11-05"}, "red", "Z4"),  # green from 2026-11-26
        ("zhejiang", {"case": {"status": "close_contact", "since": "2026-11-10"},
                      "measures": [{"kind": "centralized_isolation", "start": "2026-11-10", "end": "2026-11-24"}]},
         "red", "Z2"),
        ("guangxi-hechi", {"travel": {"origin_class": "high", "arrival": "2026-11-05"}}, "yellow", "H1"),
        ("guangxi-hechi", {"travel": {"origin_class": "high", "arrival": "2026-11-20"}}, "red", "H1"),
        ("guangxi-hechi", {"travel": {"origin_class": "risk_county", "arrival": "2026-11-13"}}, "yellow", "H3"),
        ("yunnan", {"symptoms": {"present": True, "declared_at": "2026-11-20T09:00:00+08:00"},
                    "tests": [{"sampled_at": "2026-11-21T09:00:00+08:00", "result": "negative"}]}, "yellow", "Y2"),
]


@pytest.mark.parametrize("name, document, colour, rule", RULES_MD)
def test_rules_md_examples_present(name, document, colour, rule):
    got = load_policy(name).evaluate(parse_facts(document)[0], NOW)
    assert (got.colour, got.rule) == (colour, rule), (name, document)


def test_turns_over_time_follow_reevaluate_at():
    """Walking forward through reevaluate_at reproduces the policy's timeline: red, yellow, green."""
    policy = load_policy("zhejiang")
    facts = parse_facts({"overseas_arrival": "2026-11-15"})[0]
    seen, now = [], NOW
    while True:
        d = policy.evaluate(facts, now)
        seen.append((d.colour, now.date().isoformat()))
        if d.reevaluate_at is None:
            break
        assert d.reevaluate_at > now
        now = d.reevaluate_at
    assert seen == [("red", "2026-11-22"), ("green", "2026-12-06")]
    facts = parse_facts({"measures": [{"kind": "centralized_isolation", "start": "2026-11-10", "end": "2026-11-24"},
                                      {"kind": "home_health_observation", "start": "2026-11-24"}]})[0]
    seen, now = [], NOW
    while True:
        d = policy.evaluate(facts, now)
        seen.append((d.colour, now.date().isoformat(), d.green_at.date().isoformat() if d.green_at else None))
        if d.reevaluate_at is None:
            break
        now = d.reevaluate_at
    assert seen == [("red", "2026-11-22", "2026-12-01"), ("yellow", "2026-11-24", "2026-12-01"),
                    ("green", "2026-12-01", None)]


def test_designation_expiry_and_purity():
    policy = load_policy("zhejiang")
    until = NOW + dt.timedelta(hours=2)
    facts = {"designation": {"colour": "red", "reason": "其他须纳入红码管理的人员", "until": until}}
    snapshot = copy.deepcopy(facts)
    d = policy.evaluate(facts, NOW)
    assert (d.colour, d.rule, d.reason, d.reevaluate_at) == ("red", "Z10", "其他须纳入红码管理的人员", until)
    assert policy.evaluate(facts, until).colour == "green"
    assert policy.evaluate(facts, until - dt.timedelta(microseconds=1)).colour == "red"
    assert facts == snapshot  # evaluation does not touch its input


def test_wording_carries_dates():
    d = load_policy("zhejiang").evaluate(parse_facts({"overseas_arrival": "2026-11-15"})[0], NOW)
    assert d.reason == "11月15日入境，入境未满21天（集中隔离14天、居家医学观察7天）"
    assert d.next_step == "入境满21天（12月6日）转为绿码"


# -- broken policies ------------------------------------------------------------------------------

def zhejiang_raw():
    return json.loads((POLICY_DIR / "zhejiang.json").read_text())


def broken(mutate):
    raw = zhejiang_raw()
    mutate(raw)
    return raw


def rule(raw, rid, colour=None):
    return next(r for r in raw["rules"] if r["id"] == rid and (colour is None or r["colour"] == colour))


@pytest.mark.parametrize("mutate, words", [
    (lambda r: rule(r, "Z4", "red")["when"]["and"][1].update({"<": [{"var": "today"}, {"plus_dayz": []}]}),
     "rule Z4: when: and[1].<[1].plus_dayz: unknown operator 'plus_dayz'"),
    (lambda r: rule(r, "Z5")["when"]["and"][0]["in"].__setitem__(0, {"var": "travel.origin"}),
     "rule Z5: when: and[0].in[0].var: unknown fact 'travel.origin'"),
    (lambda r: rule(r, "Z5").update({"values": {"days": {"param": "risk_days"}, "arrival": 1, "green_on": 2}}),
     "rule Z5: values.days: param: unknown parameter 'risk_days'"),
    (lambda r: rule(r, "Z7").update({"colour": "purple"}), "rule Z7: colour: must be red, yellow, green or designated"),
    (lambda r: rule(r, "Z10").update({"when": True}), "rule Z10: when: the designated rule holds while a designation"),
    (lambda r: rule(r, "Z9").update({"colour": "designated", "when": None}), "rules: at most one rule is the designation"),
    (lambda r: rule(r, "Z9").pop("when"), "rule Z9: when: Missing data for required field."),
    (lambda r: r["parameters"].pop("measure_days"), "rule Z2: when: and[1].!=[0].measure_state: needs the parameter "
                                                    "measure_days"),
    (lambda r: r["parameters"]["measure_days"].pop("home_isolation"), "parameters: measure_days: days (a whole "
                                                                      "number above 0) for each of"),
    (lambda r: r.pop("version"), "version: Missing data for required field."),
    (lambda r: r.pop("code_title"), "code_title: Missing data for required field."),
    (lambda r: r.update({"valid_from": "soon"}), "valid_from: Not a valid date."),
    (lambda r: r["wording"]["may"].pop("red"), "wording: may: Length must be 3."),
    (lambda r: rule(r, "Z5")["when"]["and"].append({"later_of": []}), "rule Z5: when: and[2].later_of: takes a list "
                                                                      "of dates"),
    (lambda r: rule(r, "Z9").update({"reason": "居家{until}"}), "rule Z9: reason: {until} is not in values"),
    (lambda r: rule(r, "Z9").pop("reason"), "rule Z9: reason: Missing data for required field."),
    (lambda r: r["rules"].pop(), "a green rule must hold always"),
    (lambda r: rule(r, "Z3")["when"].update({"==": [{"measure_state": ["quarantine"]}, "ongoing"]}),
     "rule Z3: when: ==[0].measure_state: unknown measure kind 'quarantine'"),
    (lambda r: r["parameters"].update({"overseas_days": [14]}), "parameters: overseas_days: must be a number"),
    (lambda r: rule(r, "Z9")["translations"]["en"].update({"reason": "Home {until}"}),
     "rule Z9: translations.en.reason: {until} is not in values"),
    (lambda r: rule(r, "Z9")["translations"].update({"fr": {"reason": "x"}}), "rule Z9: translations: fr"),
    (lambda r: r["translations"]["en"]["may"].pop("red"), "translations: en: may: Length must be 3."),
    (lambda r: r["examples"][0]["facts"].update({"travel": {"origin_class": "moon", "arrival": "2026-01-01"}}), None),
])
def test_broken_policy_named(tmp_path, mutate, words):
    path = tmp_path / "zhejiang.json"
    path.write_text(json.dumps(broken(mutate), ensure_ascii=False))
    if words is None:  # a bad example is reported by check, not at load
        failures = load_policy(str(path)).check_examples()
        assert failures and "travel.origin_class" in failures[0]
        return
    with pytest.raises(PolicyError) as err:
        load_policy(str(path))
    assert str(err.value).startswith("zhejiang.json: ") and words in str(err.value), str(err.value)


def test_example_that_no_longer_holds_fails_check(tmp_path):
    raw = zhejiang_raw()
    raw["parameters"]["overseas_days"] = 7  # a day count changed without updating the examples
    path = tmp_path / "zhejiang.json"
    path.write_text(json.dumps(raw, ensure_ascii=False))
    failures = load_policy(str(path)).check_examples()
    assert any("rules.md: overseas arrival 11-15" in f and "expected red Z4, got green Z11" in f for f in failures)


def run_flask(*args, stdin=None, env_extra=None, tmp_path=None):
    env = {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path), "APP_ENV": "development", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)


def test_broken_region_policy_stops_startup_and_check(tmp_path):
    name = f"test-broken-{uuid.uuid4().hex[:8]}"
    raw = broken(lambda r: rule(r, "Z6")["when"]["and"].append({"negative_tests_after": [1, 2]}))
    raw["name"] = name
    path = POLICY_DIR / f"{name}.json"
    path.write_text(json.dumps(raw, ensure_ascii=False))
    try:
        proc = run_flask("policy", "check", tmp_path=tmp_path, env_extra={"REGION_POLICY": name})
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert proc.stderr.strip() == (f"healthcode: {name}.json: rule Z6: when: and[3].negative_tests_after: "
                                       "takes a list of 3 arguments")
        proc = subprocess.run([sys.executable, "-m", "workers", "--burst"], cwd=ROOT, capture_output=True, text=True,
                              env={"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path), "REGION_POLICY": name, "APP_ENV": "development"})
        assert proc.returncode == 2 and f"{name}.json: rule Z6" in proc.stderr
        # with a good region policy, check names the broken file and fails
        proc = run_flask("policy", "check", tmp_path=tmp_path)
        assert proc.returncode == 1 and f"FAIL {name}.json: rule Z6: when:" in proc.stderr
        assert "ok   zhejiang.json: version 2, valid from 2026-11-29, 14 rules" in proc.stdout
    finally:
        path.unlink()


def test_policy_eval_cli(tmp_path):
    facts = {"now": "2026-11-22T10:00:00+08:00", "overseas_arrival": "2026-11-15"}
    proc = run_flask("policy", "eval", "--policy", "zhejiang", "-", stdin=json.dumps(facts), tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"colour": "red", "rule": "Z4",
                                       "reason": "11月15日入境，入境未满21天（集中隔离14天、居家医学观察7天）",
                                       "next_step": "入境满21天（12月6日）转为绿码",
                                       "reevaluate_at": "2026-12-06T00:00:00+08:00",
                                       "green_at": "2026-12-06T00:00:00+08:00"}
    file = tmp_path / "facts.json"
    file.write_text(json.dumps({**facts, "travel": {"origin_class": "risk_county", "arrival": "2026-11-20"}}))
    proc = run_flask("policy", "eval", "--policy", "guangxi-hechi", str(file), tmp_path=tmp_path)
    assert json.loads(proc.stdout)["rule"] == "HO"  # both red: the overseas rule is listed first
    file.write_text(json.dumps({"now": facts["now"], "travel": [{"origin_class": "risk_county", "arrival": "2026-11-20"}]}))
    proc = run_flask("policy", "eval", "--policy", "guangxi-hechi", str(file), tmp_path=tmp_path)
    assert json.loads(proc.stdout)["rule"] == "H3"


@pytest.mark.parametrize("document, line", [
    ('{"overseas_arrival": "2026-02-30"}', "error: overseas_arrival: Not a valid date."),
    ('{"travel": {"origin_class": "moon", "arrival": "2026-11-01"}}',
     "error: travel.origin_class: Must be one of: high, medium, risk_county, case_city, low, unknown."),
    ('{"travel": [{"origin_class": "high", "arrival": "2026-11-01"}, {"origin_class": "low"}]}',
     "error: travel.1.arrival: Missing data for required field."),
    ('{"overseas_arrival": {"arrival": "2026-11-01", "recorded_at": "soon"}}',
     "error: overseas_arrival.recorded_at: Not a valid datetime."),
    ('{"overseas_arrival": [7]}', "error: overseas_arrival.0: an object, or a list of them, is expected"),
    ('{"designation": {"colour": "green", "made_at": "2026-11-31T00:00:00"}}',
     "error: designation.made_at: Not a valid datetime."),
    ('{"tests": [{"sampled_at": "yesterday", "result": "negative"}]}', "error: tests.0.sampled_at: Not a valid datetime."),
    ('{"measures": [{"kind": "home_isolation", "start": "2026-11-10", "end": "2026-11-01"}]}',
     "error: measures.0.end: end is before start"),
    ('{"colour": "green"}', "error: colour: Unknown field."),
    ('[1, 2]', "error: facts: a JSON object is expected"),
    ('{"now": ', "error: facts: not valid JSON: line 1 column 9: Expecting value"),
])
def test_policy_eval_bad_facts_one_line(tmp_path, document, line):
    proc = run_flask("policy", "eval", "-", stdin=document, tmp_path=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == line


def test_parse_facts_rejects_unknown_values():
    with pytest.raises(FactsError, match="case.status"):
        parse_facts({"case": {"status": "cured"}})
    with pytest.raises(FactsError, match="designation.colour"):
        parse_facts({"designation": {"colour": "blue"}})
    facts, now = parse_facts({"now": "2026-11-22T10:00:00", "symptoms": {"present": True,
                                                                       "declared_at": "2026-11-21T09:00:00"}})
    assert now == NOW and facts["symptoms"]["declared_at"].utcoffset() == dt.timedelta(hours=8)


def test_compile_policy_rejects_wrong_name(tmp_path):
    with pytest.raises(PolicyError, match="name: must match the file name"):
        compile_policy(zhejiang_raw(), tmp_path / "other.json")
