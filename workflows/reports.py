"""Reports of the repair loop: counts by state, overdue, average time per step, per department;
CSV and XLSX exports (through hub/services/spreadsheets.py: text cells never run as formulas)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from hub.services.spreadsheets import Cell, XlsxBook, csv_text
from workflows import tables as w
from workflows.statemachine import WO_DONE, WO_STATES, WO_STEPS

if TYPE_CHECKING:
    from hub.app import Services

# step name -> (from state entered, to state entered)
STEP_PAIRS = [("dispatch", "new", "dispatched"), ("accept", "dispatched", "accepted"),
              ("depart", "accepted", "departed"), ("arrive", "departed", "arrived"),
              ("fix", "arrived", "fixed"), ("complete", "fixed", "completed"),
              ("close", "completed", "closed")]
COLUMNS = ["number", "title", "state", "department", "priority", "late", "overdue", "created_at",
           *[f"{s}_at" for s in WO_STEPS], "planned_start", "planned_end",
           *[f"{name}_s" for name, _, _ in STEP_PAIRS], "customer_notified_at"]


def _iso(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


class Reports:
    def __init__(self, services: Services) -> None:
        self.s = services

    async def workorders(self, *, department_id: str | None = None, since: float | None = None,
                         until: float | None = None, scope: set[str] | None = None) -> dict[str, Any]:
        c = w.work_orders.c
        cond: list[Any] = []
        if department_id:
            cond.append(c.department_id == department_id)
        if scope is not None:
            cond.append(c.department_id.in_(scope))
        if since is not None:
            cond.append(c.created_at >= since)
        if until is not None:
            cond.append(c.created_at < until)
        async with self.s.db.read() as conn:
            rows = (await conn.execute(select(w.work_orders).where(*cond).order_by(c.number))).all()
            ids = [r.id for r in rows]
            hist = (await conn.execute(select(w.work_order_history).where(
                w.work_order_history.c.work_order_id.in_(ids)).order_by(
                w.work_order_history.c.at))).all() if ids else []
            deps = {r.id: r.name for r in (await conn.execute(select(w.departments))).all()}
        now = self.s.clock.now()
        entered: dict[str, dict[str, float]] = {i: {} for i in ids}
        notified: dict[str, float] = {}
        for h in hist:
            if h.kind == "transition" and h.to_state:
                # the latest entry wins (a reopened order is measured on its last pass)
                entered[h.work_order_id][h.to_state] = h.at
            elif h.kind == "customer_notified":
                notified[h.work_order_id] = h.at
        details = []
        step_sums: dict[str, list[float]] = {name: [] for name, _, _ in STEP_PAIRS}
        per_dep: dict[str, dict[str, Any]] = {}
        by_state = dict.fromkeys(WO_STATES, 0)
        overdue_total = 0
        for r in rows:
            e = entered[r.id]
            overdue = r.state not in WO_DONE and r.planned_end is not None and r.planned_end < now
            overdue_total += overdue
            by_state[r.state] += 1
            d: dict[str, Any] = {"id": r.id, "number": r.number, "title": r.title, "state": r.state,
                                 "department": deps.get(r.department_id or "", ""),
                                 "department_id": r.department_id, "priority": r.priority,
                                 "late": bool(r.late), "overdue": overdue, "created_at": r.created_at,
                                 "planned_start": r.planned_start, "planned_end": r.planned_end,
                                 "customer_notified_at": notified.get(r.id)}
            for s in WO_STEPS:
                d[f"{s}_at"] = e.get(s)
            for name, a, b in STEP_PAIRS:
                start = r.created_at if a == "new" else e.get(a)
                end = e.get(b)
                dur = end - start if start is not None and end is not None and end >= start else None
                d[f"{name}_s"] = dur
                if dur is not None:
                    step_sums[name].append(dur)
            details.append(d)
            key = r.department_id or ""
            dep = per_dep.setdefault(key, {"department_id": r.department_id,
                                           "department": deps.get(key, "(not assigned)"), "total": 0,
                                           "by_state": dict.fromkeys(WO_STATES, 0), "overdue": 0,
                                           "late": 0, "_durations": []})
            dep["total"] += 1
            dep["by_state"][r.state] += 1
            dep["overdue"] += overdue
            dep["late"] += bool(r.late)
            if e.get("completed") is not None and e.get("dispatched") is not None:
                dep["_durations"].append(e["completed"] - e["dispatched"])
        departments = []
        for dep in sorted(per_dep.values(), key=lambda x: x["department"]):
            durs = dep.pop("_durations")
            dep["avg_dispatch_to_complete_s"] = sum(durs) / len(durs) if durs else None
            departments.append(dep)
        return {
            "generated_at": now, "total": len(rows), "by_state": by_state, "overdue": overdue_total,
            "late": sum(1 for d in details if d["late"]),
            "avg_step_s": {k: (sum(v) / len(v) if v else None) for k, v in step_sums.items()},
            "step_counts": {k: len(v) for k, v in step_sums.items()},
            "departments": departments, "work_orders": details,
        }

    @staticmethod
    def _row(d: dict[str, Any]) -> list[Cell]:
        """One work order's cells: times as text, step durations as numbers, the rest as text
        (kept inert by hub/services/spreadsheets.py)."""
        out: list[Cell] = []
        for col in COLUMNS:
            v = d.get(col)
            if col.endswith("_at") or col in ("planned_start", "planned_end"):
                out.append(_iso(v))
            elif col.endswith("_s"):
                out.append(None if v is None else round(v, 1))
            elif isinstance(v, bool):
                out.append("yes" if v else "no")
            else:
                out.append(v)
        return out

    def csv(self, report: dict[str, Any]) -> str:
        return csv_text(COLUMNS, (self._row(d) for d in report["work_orders"]))

    def xlsx(self, report: dict[str, Any]) -> bytes:
        book = XlsxBook()
        ws = book.sheet("Summary")
        for row in ([["Work orders report", _iso(report["generated_at"])], ["Total", report["total"]],
                     ["Overdue", report["overdue"]], ["Late", report["late"]], [],
                     ["State", "Count"], *([s, n] for s, n in report["by_state"].items()), [],
                     ["Step", "Average seconds", "Work orders"],
                     *([k, None if v is None else round(v, 1), report["step_counts"][k]]
                       for k, v in report["avg_step_s"].items())]):
            book.append(ws, row)
        deps = book.sheet("Departments")
        book.append(deps, ["Department", "Total", *WO_STATES, "Overdue", "Late", "Avg dispatch→complete s"])
        for d in report["departments"]:
            avg = d["avg_dispatch_to_complete_s"]
            book.append(deps, [d["department"], d["total"], *[d["by_state"][s] for s in WO_STATES],
                               d["overdue"], d["late"], None if avg is None else round(avg, 1)])
        detail = book.sheet("Work orders")
        book.append(detail, COLUMNS)
        for d in report["work_orders"]:
            book.append(detail, self._row(d))
        return book.to_bytes()
