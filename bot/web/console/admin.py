"""Console pages for admins: stats with a chart, the risk-area upload (a preview first), the audit log."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.domain import risk_areas
from bot.domain.errors import Invalid
from bot.domain.models import Staff
from bot.domain.stats import audit_rows
from bot.domain.stats import stats as numbers
from bot.web import db
from bot.infra.texts import say
from bot.web.console.base import bp, page, services


@bp.get("/stats")
@page("stats")
def stats():
    s = db.session()
    data = numbers(s)
    s.commit()
    return render_template("console/stats.html", d=data, chart=_chart(data["by_day"], data["days_shown"]))


def _chart(days: list[dict], slots: list[str], width: int = 720, height: int = 220) -> dict:
    """Codes by colour per day over the last 30 days (server-drawn SVG: no front-end build). Every
    day has its slot, so a single day of data is a dot with its number, not an empty chart."""
    by_day = {d["day"]: d for d in days}
    top = max([max(d[c] for c in ("green", "yellow", "red")) for d in days] or [0]) or 1
    step = width / max(len(slots) - 1, 1)

    def y(n):
        return height - n / top * (height - 10)

    series = []
    for colour in ("green", "yellow", "red"):
        points = [(i * step, y(by_day[day][colour]), by_day[day][colour]) for i, day in enumerate(slots) if day in by_day]
        series.append((colour, " ".join(f"{x:.1f},{yy:.1f}" for x, yy, _ in points), points))
    return {"width": width, "height": height, "top": top, "mid": top // 2 if top > 1 else None,
            "series": series, "has_data": bool(days), "mid_y": y(top // 2) if top > 1 else None,
            "labels": [(i * step, day[5:]) for i, day in enumerate(slots) if i % 5 == 0 or i == len(slots) - 1]}


@bp.route("/areas", methods=("GET", "POST"))
@page("areas")
def areas():
    """Upload a CSV: a preview first (how many people it affects), then replace on confirm."""
    s = db.session()
    preview, errors, csv_text = None, None, ""
    if request.method == "POST":
        upload = request.files.get("file")
        csv_text = upload.read().decode("utf-8-sig", "replace") if upload and upload.filename else \
            request.form.get("csv_text", "")
        confirm = request.form.get("confirm") == "1"
        try:
            result = risk_areas.apply_areas(s, services().policy.name, g.staff, risk_areas.parse_csv(csv_text),
                                            dry_run=not confirm)
        except Invalid as exc:
            result, errors = None, exc.errors or {"_": [exc.message]}
        if result is not None and confirm:
            s.commit()
            flash(say("console.areas_replaced", **result))
            return redirect(url_for("console.areas"))
        preview = result
    return render_template("console/areas.html", areas=risk_areas.table(s), preview=preview, errors=errors,
                           csv_text=csv_text)


@bp.get("/audit", endpoint="audit")
@page("audit")
def audit_page():
    action = (request.args.get("action") or "").strip()[:64]
    s = db.session()
    rows = audit_rows(s, {"action": action or None, "limit": 200})
    ids = {r["actor_id"] for r in rows if r["actor_kind"] == "staff" and r["actor_id"]}
    ids |= {v for r in rows for k, v in (r["detail"] or {}).items() if k in ("from", "to", "staff_id") and isinstance(v, int)}
    names = dict(s.execute(select(Staff.id, Staff.name).where(Staff.id.in_(ids))).all()) if ids else {}
    return render_template("console/audit.html", rows=rows, action=action, staff_names=names)
