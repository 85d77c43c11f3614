"""7 一键直报: the report and its travel fact (an origin the risk-area table does not know stays
`unknown` until staff classify it), the rules run, the report joins its district's queue."""
from __future__ import annotations

from sqlalchemy import select

from bot.chat.actions.common import code_view, match_origin, person_of
from bot.chat.actions.registry import action
from bot.domain import audit
from bot.domain.code_views import reason_in
from bot.domain.codes import classify_origin, reevaluate, risk_table
from bot.domain.models import ArrivalReport, Code, TravelFact
from bot.infra.db import SHANGHAI, utcnow


@action("arrival.report")
def arrival_report(services, session, msg, p):
    me = person_of(session, msg)
    left, arrival = p.left_on, p.arrival_on
    recent = session.scalar(select(ArrivalReport).where(ArrivalReport.person_id == me.id,
                                                        ArrivalReport.arrival_on == arrival,
                                                        ArrivalReport.left_on == left))
    if recent is not None:  # the same report again (a retry): one report
        return {"report_id": recent.id, "colour": getattr(session.get(Code, me.id), "colour", None)}
    origin_code = match_origin(session, p.origin)
    district = match_origin(session, p.destination) or me.district
    report = ArrivalReport(person_id=me.id, origin_address=p.origin, origin_code=origin_code, left_on=left,
                           arrival_on=arrival, destination_address=p.destination, district=district,
                           phone_confirmed=True)
    session.add(report)
    if district:
        me.district = district
    today = utcnow().astimezone(SHANGHAI).date()
    # an origin the risk-area table does not know stays "unknown" (read as low) until staff classify it
    cls = (classify_origin(origin_code, risk_table(session)) or "low") if origin_code else "unknown"
    fact = TravelFact(person_id=me.id, overseas=False, origin_class=cls, origin_code=origin_code, arrival=arrival,
                      reported_on=today, source="arrival_report")
    session.add(fact)
    session.flush()
    report.travel_fact_id = fact.id
    decision, _ = reevaluate(session, services.policy, me.id, cause="declaration")
    audit.record(session, "arrival_report.filed", actor_kind="citizen", actor_id=me.id, subject_person_id=me.id,
                 report_id=report.id)
    return {"report_id": report.id, "colour": decision.colour, "reason": reason_in(decision.reason, decision.wording),
            "unknown": cls == "unknown",
            "link": code_view(services, me, session.get(Code, me.id)).get("link")}
