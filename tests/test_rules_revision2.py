"""Rules revision 2: issue 13's findings, each as it was reported (policy eval at 2026-11-22 10:00),
the facts document's new forms, and a property: adding a fact never lowers the colour."""
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.infra.db import SHANGHAI
from bot.domain.rules.facts import parse_facts
from bot.domain.rules.loading import load_policy

NOW = dt.datetime(2026, 11, 22, 10, tzinfo=SHANGHAI)
POLICIES = ("zhejiang", "guangxi-hechi", "yunnan")
RANK = {"green": 0, "yellow": 1, "red": 2}


def decide(policy, document, now=NOW):
    return load_policy(policy).evaluate(parse_facts(document)[0], now)


def day(text):
    return dt.datetime.fromisoformat(text + "T00:00:00+08:00")


# -- the findings ----------------------------------------------------------------------------------

@pytest.mark.parametrize("policy, rule", [("zhejiang", "Z0"), ("guangxi-hechi", "HP"), ("yunnan", "YP")])
def test_a_positive_test_is_red_in_every_policy(policy, rule):
    d = decide(policy, {"tests": [{"sampled_at": "2026-11-21T18:00:00+08:00", "result": "positive"}]})
    assert (d.colour, d.rule) == ("red", rule) and "阳性" in d.reason
    # day 14 after sampling it no longer counts by itself
    assert decide(policy, {"tests": [{"sampled_at": "2026-11-08T18:00:00+08:00", "result": "positive"}]}).colour == "green"


@pytest.mark.parametrize("policy", POLICIES)
def test_a_case_recorded_after_a_green_designation_is_not_hidden(policy):
    document = {"case": {"status": "confirmed", "since": "2026-11-21", "recorded_at": "2026-11-21T12:00:00+08:00"},
                "designation": {"colour": "green", "reason": "申诉更正", "made_at": "2026-11-20T12:00:00+08:00",
                                "until": "2026-12-04T12:00:00+08:00"}}
    assert decide(policy, document).colour == "red"


def test_a_lapsing_designation_is_a_time_change_not_a_silent_revert():
    """Symptoms declared, then a green designation with an end: at its end the rules decide
    again, and that instant is reevaluate_at, so the worker re-evaluates and pushes."""
    document = {"symptoms": {"present": True, "declared_at": "2026-11-20T09:00:00+08:00",
                             "recorded_at": "2026-11-20T09:00:00+08:00"},
                "designation": {"colour": "green", "reason": "申诉更正", "made_at": "2026-11-21T09:00:00+08:00",
                                "until": "2026-12-05T09:00:00+08:00"}}
    d = decide("zhejiang", document)
    assert (d.colour, d.rule, d.reevaluate_at) == ("green", "Z10", dt.datetime(2026, 12, 5, 9, tzinfo=SHANGHAI))
    assert decide("zhejiang", document, d.reevaluate_at).rule == "Z8"


@pytest.mark.parametrize("policy, later", [(p, cls) for p in POLICIES for cls in ("low", "unknown")])
def test_a_later_harmless_trip_erases_no_earlier_risk(policy, later):
    risky = {"origin_class": "high", "arrival": "2026-11-12", "reported_on": "2026-11-12"}
    alone = decide(policy, {"travel": [risky]})
    both = decide(policy, {"travel": [risky, {"origin_class": later, "arrival": "2026-11-20",
                                              "reported_on": "2026-11-21"}]})
    assert alone.colour != "green" and (both.colour, both.rule) == (alone.colour, alone.rule)


@pytest.mark.parametrize("policy", POLICIES)
def test_a_self_declared_measure_ends(policy):
    d = decide(policy, {"measures": [{"kind": "home_health_observation", "start": "2026-11-20"}]})
    assert d.colour == "yellow" and d.reevaluate_at == day("2026-11-27") == d.green_at
    assert decide(policy, {"measures": [{"kind": "home_health_observation", "start": "2026-11-20"}]},
                  d.reevaluate_at).colour == "green"


@pytest.mark.parametrize("kind, colour", [("centralized_isolation", "red"), ("home_isolation", "red"),
                                          ("home_health_observation", "yellow"), ("daily_health_monitoring", "yellow")])
def test_yunnan_reads_isolation_and_observation(kind, colour):
    d = decide("yunnan", {"measures": [{"kind": kind, "start": "2026-11-21"}]})
    assert d.colour == colour and d.green_at is not None


@pytest.mark.parametrize("document, colour, rule", [
    ({"overseas_arrival": "2026-11-15"}, "red", "HO"),
    ({"symptoms": {"present": True, "declared_at": "2026-11-21T09:00:00+08:00"}}, "yellow", "HS"),
    ({"unexplained_fever": True}, "red", "HF"),
])
def test_guangxi_hechi_applies_the_national_baseline(document, colour, rule):
    d = decide("guangxi-hechi", document)
    assert (d.colour, d.rule) == (colour, rule)


def test_a_hechi_late_reporter_turns_green_only_7_days_after_reporting():
    # from a high-risk area on 11-01 (day 21 today), reported on 11-20, tested the day after
    document = {"travel": [{"origin_class": "high", "arrival": "2026-11-01", "reported_on": "2026-11-20"}],
                "tests": [{"sampled_at": "2026-11-21T09:00:00+08:00", "result": "negative"}]}
    d = decide("guangxi-hechi", document)
    assert (d.colour, d.rule, d.green_at) == ("yellow", "H1", day("2026-11-27"))
    assert decide("guangxi-hechi", document, day("2026-11-26")).colour == "yellow"
    assert decide("guangxi-hechi", document, day("2026-11-27")).colour == "green"


@pytest.mark.parametrize("arrival, colour", [("2026-11-08", "red"), ("2026-11-02", "red"), ("2026-11-01", "green")])
def test_zhejiang_overseas_arrivals_are_red_for_21_days(arrival, colour):
    assert decide("zhejiang", {"overseas_arrival": arrival}).colour == colour


@pytest.mark.parametrize("policy", POLICIES)
def test_a_released_confirmed_case_is_red_for_its_recovery(policy):
    d = decide(policy, {"case": {"status": "confirmed", "since": "2026-11-01", "released_on": "2026-11-21"}})
    assert d.colour == "red" and d.green_at == day("2026-12-05")
    assert decide(policy, {"case": {"status": "suspected", "since": "2026-11-01",
                                    "released_on": "2026-11-21"}}).colour == "green"


def test_a_risk_county_is_yellow_in_zhejiang_and_red_in_guangxi_hechi():
    trip = {"travel": {"origin_class": "risk_county", "arrival": "2026-11-20"}}
    assert decide("zhejiang", trip).colour == "yellow" and decide("guangxi-hechi", trip).colour == "red"


# -- the document's forms ----------------------------------------------------------------------------

def test_single_object_and_list_forms_agree():
    one = parse_facts({"travel": {"origin_class": "high", "arrival": "2026-11-20"},
                       "overseas_arrival": "2026-11-15"})[0]
    many = parse_facts({"travel": [{"origin_class": "high", "arrival": "2026-11-20"}],
                        "overseas_arrival": [{"arrival": "2026-11-15"}]})[0]
    assert one == many and one["overseas"] == [{"arrival": dt.date(2026, 11, 15), "reported_on": None,
                                                "recorded_at": None}]


def test_trips_are_sorted_by_arrival_and_instants_default_to_shanghai():
    facts = parse_facts({"travel": [{"origin_class": "low", "arrival": "2026-11-20"},
                                    {"origin_class": "high", "arrival": "2026-11-02",
                                     "recorded_at": "2026-11-03T08:00:00"}]})[0]
    assert [t["arrival"].day for t in facts["travel"]] == [2, 20]
    assert facts["travel"][0]["recorded_at"].utcoffset() == dt.timedelta(hours=8)


# -- a property ----------------------------------------------------------------------------------------

DAYS = st.integers(min_value=-40, max_value=5).map(lambda n: (NOW.date() + dt.timedelta(days=n)).isoformat())
INSTANTS = st.integers(min_value=-40 * 24, max_value=24).map(
    lambda h: (NOW.replace(minute=0) + dt.timedelta(hours=h)).isoformat())
TRIP = st.fixed_dictionaries({"origin_class": st.sampled_from(["high", "medium", "risk_county", "case_city", "low",
                                                                "unknown"]),
                              "arrival": DAYS}, optional={"reported_on": DAYS, "recorded_at": INSTANTS})
OVERSEAS = st.fixed_dictionaries({"arrival": DAYS}, optional={"reported_on": DAYS, "recorded_at": INSTANTS})
TEST = st.fixed_dictionaries({"sampled_at": INSTANTS, "result": st.sampled_from(["negative", "positive"])},
                             optional={"recorded_at": INSTANTS})
KINDS = st.sampled_from(["centralized_isolation", "home_isolation", "home_health_observation",
                         "daily_health_monitoring"])
MEASURE = st.fixed_dictionaries({"kind": KINDS, "start": DAYS}, optional={
    "end": st.integers(min_value=1, max_value=20), "recorded_at": INSTANTS})
CASE = st.fixed_dictionaries({"status": st.sampled_from(["confirmed", "suspected", "asymptomatic", "close_contact"]),
                              "since": DAYS}, optional={"released_on": DAYS, "recorded_at": INSTANTS})
DESIGNATION = st.fixed_dictionaries({"colour": st.sampled_from(["red", "yellow", "green"]), "reason": st.just("x")},
                                    optional={"until": INSTANTS, "made_at": INSTANTS})


def measure(m):
    m = dict(m)
    if "end" in m:
        m["end"] = (dt.date.fromisoformat(m["start"]) + dt.timedelta(days=m["end"])).isoformat()
    return m


DOCUMENT = st.fixed_dictionaries({}, optional={
    "travel": st.lists(TRIP, max_size=3), "overseas_arrival": st.lists(OVERSEAS, max_size=2),
    "tests": st.lists(TEST, max_size=3), "measures": st.lists(MEASURE.map(measure), max_size=2),
    "case": CASE, "symptoms": st.fixed_dictionaries({"present": st.booleans(), "declared_at": INSTANTS},
                                                     optional={"recorded_at": INSTANTS}),
    "unexplained_fever": st.booleans(), "designation": DESIGNATION})


def ongoing(m, today):
    start = dt.date.fromisoformat(m["start"])
    return start > today or (m.get("end") and dt.date.fromisoformat(m["end"]) > today) or \
        (not m.get("end") and start + dt.timedelta(days=7) > today)


@st.composite
def document_and_addition(draw):
    """A fact set and one more fact of a kind that may only raise the colour: a trip, an arrival
    from abroad, a positive test, symptoms, unexplained fever, a case (where none is), a measure
    still running, a red designation (where none is). Not a negative test, a release, a measure
    that has ended: those may lower it."""
    doc = draw(DOCUMENT)
    kinds = ["travel", "overseas_arrival", "positive", "fever", "measure"]
    if "case" not in doc and not any(t["result"] == "positive" for t in doc.get("tests", [])):
        kinds.append("case")
    if not (doc.get("symptoms") or {}).get("present"):
        kinds.append("symptoms")
    if "designation" not in doc:
        kinds.append("designation")
    kind = draw(st.sampled_from(kinds))
    more = {k: (list(v) if isinstance(v, list) else v) for k, v in doc.items()}
    if kind in ("travel", "overseas_arrival"):
        more.setdefault(kind, []).append(draw(TRIP if kind == "travel" else OVERSEAS))
    elif kind == "positive":
        more.setdefault("tests", []).append({"sampled_at": draw(INSTANTS), "result": "positive"})
    elif kind == "fever":
        more["unexplained_fever"] = True
    elif kind == "measure":
        m = draw(MEASURE.map(measure).filter(lambda m: ongoing(m, NOW.date())))
        more.setdefault("measures", []).append(m)
    elif kind == "case":
        more["case"] = draw(CASE.filter(lambda c: "released_on" not in c))
    elif kind == "symptoms":
        more["symptoms"] = {"present": True, "declared_at": draw(INSTANTS)}
    else:
        more["designation"] = {"colour": "red", "reason": "x"}
    return doc, more, kind


@pytest.mark.parametrize("policy", POLICIES)
@given(case=document_and_addition())
def test_adding_a_fact_never_lowers_the_colour(policy, case):
    before, after, kind = case
    if kind == "case" and any(m["kind"] in ("centralized_isolation", "home_isolation")
                              for m in after.get("measures", [])):
        # a close contact whose isolation has ended is green (the release of Z2): that is an ending
        after["case"]["status"] = "confirmed"
    a, b = decide(policy, before), decide(policy, after)
    assert RANK[b.colour] >= RANK[a.colour], (kind, before, after, a, b)
