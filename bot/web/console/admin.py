"""Console pages for admins: stats with a chart, the risk-area upload (a preview first), the audit log."""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from bot.domain import risk_areas
from bot.domain.errors import Invalid
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
    return render_template("console/stats.html", d=data, chart=_chart(data["by_day"]))


def _chart(days: list[dict], width: int = 720, height: int = 220) -> dict:
    """Polylines of codes by colour per day (server-drawn SVG: no front-end build)."""
    if not days:
        return {"lines": [], "width": width, "height": height, "labels": []}
    top = max(max(d[c] for c in ("green", "yellow", "red")) for d in days) or 1
    step = width / max(len(days) - 1, 1)

    def points(colour):
        return " ".join(f"{i * step:.1f},{height - d[colour] / top * (height - 10):.1f}" for i, d in enumerate(days))

    return {"width": width, "height": height, "top": top,
            "lines": [(c, points(c)) for c in ("green", "yellow", "red")],
            "labels": [(i * step, d["day"][5:]) for i, d in enumerate(days)]}


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
    rows = audit_rows(db.session(), {"action": action or None, "limit": 200})
    return render_template("console/audit.html", rows=rows, action=action)
