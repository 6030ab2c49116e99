"""Cadres stationed in villages and the leaders who contact them (003 三(一)(二)): all-or-nothing imports and
an administrator's create/update of one person, which is the import of one row."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session, SQLModel, col, select

from models import Cadre, CadreIn, Leader, LeaderIn, OrgUnit
from tasks.acceptance import held_village_ids
from tasks.accounts import Principal
from tasks.audit import append_event
from tasks.org import parse_rows, reject_if_any

SENDING_KINDS = {"unit": "派出单位", "township": "乡镇"}
FIELD_ZH = {
    "missing": "必填", "string_too_short": "不能为空", "string_too_long": "不能超过{max_length}个字符",
    "string_type": "应为文字", "extra_forbidden": "不认识的列，只能有 code、name、unit/level、village、post、phone",
    "enum": "只能是 county（县领导）或 township（镇领导）",
}


def _duplicates(parsed: list[tuple[int, Any]], errors: list[dict[str, Any]]) -> None:
    seen: dict[str, int] = {}
    for line, person in parsed:
        if person.code in seen:
            errors.append({"line": line, "field": "code", "message": f"编码 {person.code} 与第{seen[person.code]}行重复"})
        seen.setdefault(person.code, line)


def _units(session: Session) -> dict[str, OrgUnit]:
    return {u.code: u for u in session.exec(select(OrgUnit))}


def _cadre_errors(line: int, cadre: CadreIn, units: dict[str, OrgUnit]) -> list[dict[str, Any]]:
    """A cadre is sent by a dispatching unit (县直、省市驻县单位) or by a township (镇派), 003 三(二)."""
    unit = units.get(cadre.unit)
    if unit is None:
        return [{"line": line, "field": "unit", "message": f"派出单位编码 {cadre.unit} 不存在"}]
    if unit.kind not in SENDING_KINDS:
        return [{"line": line, "field": "unit", "message": f"{cadre.unit} 不是派出单位或乡镇，驻村干部只能由派出单位或乡镇选派"}]
    return []


def _leader_errors(line: int, leader: LeaderIn, units: dict[str, OrgUnit]) -> list[dict[str, Any]]:
    """Each leader contacts one village (每人包一个村, 003 三(一)); the township is the village's own."""
    village = units.get(leader.village)
    if village is None:
        return [{"line": line, "field": "village", "message": f"村编码 {leader.village} 不存在"}]
    if village.kind != "village":
        return [{"line": line, "field": "village", "message": f"{leader.village} 不是村，挂点领导每人包一个村"}]
    return []


def _write(session: Session, parsed: list[tuple[int, SQLModel]], table: type[Any],
           fields: Any) -> dict[str, int]:
    existing = {p.code: p for p in session.exec(select(table))}
    created = updated = 0
    for _, person in parsed:
        row = existing.get(person.code)  # type: ignore[attr-defined]
        if row is None:
            row, created = table(), created + 1
        else:
            updated += 1
        for key, value in fields(person).items():
            setattr(row, key, value)
        session.add(row)
        existing[row.code] = row
    session.flush()
    return {"created": created, "updated": updated}


def _held_leader_errors(session: Session, parsed: list[tuple[int, Any]]) -> list[dict[str, Any]]:
    """A village that failed acceptance keeps its leader until it passes (003 四(五) "对达不到要求…继续安排领导
    干部挂点…直至验收合格"): a leader of such a village cannot be moved to another."""
    held = held_village_ids(session)
    if not held:
        return []
    current = {p.code: p for p in session.exec(select(Leader).where(col(Leader.village_id).in_(held)))}
    errors = []
    for line, leader in parsed:
        row = current.get(leader.code)
        if row is not None:
            village = session.get(OrgUnit, row.village_id)
            if village is not None and village.code != leader.village:
                errors.append({"line": line, "field": "village", "message":
                               f"{village.name}验收不合格，须继续安排{row.name}挂点直至验收合格，不能改为联系其他村"})
    return errors


def _import(session: Session, rows: list[tuple[int, dict[str, Any]]], source: str, model: type[Any],
            check: Any, table: type[Any], fields: Any) -> dict[str, int]:
    errors: list[dict[str, Any]] = []
    parsed = parse_rows(rows, errors, model, FIELD_ZH)
    _duplicates(parsed, errors)
    units = _units(session)
    for line, person in parsed:
        errors.extend(check(line, person, units))
    if table is Leader:
        errors.extend(_held_leader_errors(session, parsed))
    reject_if_any(errors, source)
    return _write(session, parsed, table, lambda person: fields(person, units))


def import_cadres(session: Session, rows: list[tuple[int, dict[str, Any]]], source: str = "") -> dict[str, int]:
    """Validate every row (columns code, name, unit, post, phone), then create or update cadres by code.
    Any error: nothing is written, and each row's error is named."""
    return _import(session, rows, source, CadreIn, _cadre_errors, Cadre, lambda c, units: {
        "code": c.code, "name": c.name, "unit_id": units[c.unit].id, "post": c.post, "phone": c.phone})


def import_leaders(session: Session, rows: list[tuple[int, dict[str, Any]]], source: str = "") -> dict[str, int]:
    """Validate every row (columns code, name, level, post, phone, village), then create or update leaders by
    code. Any error: nothing is written, and each row's error is named."""
    return _import(session, rows, source, LeaderIn, _leader_errors, Leader, lambda p, units: {
        "code": p.code, "name": p.name, "level": p.level.value, "post": p.post, "phone": p.phone,
        "village_id": units[p.village].id, "township_id": units[p.village].parent_id})


IMPORTERS = {"cadre": import_cadres, "leader": import_leaders}


def save_person(session: Session, principal: Principal, now: dt.datetime, what: str,
                data: dict[str, Any]) -> dict[str, int]:
    """An administrator creates or updates one cadre or leader (by code): the import of one row, audited in
    the same transaction."""
    principal.require_role("admin")
    result = IMPORTERS[what](session, [(1, data)])
    table: Any = Cadre if what == "cadre" else Leader
    row = session.exec(select(table).where(table.code == data.get("code"))).one()
    append_event(session, actor_id=principal.user.id, actor=principal.user.username, action=f"{what}.save",
                 subject_type=what, subject_id=row.id or 0, township_id=getattr(row, "township_id", None),
                 before=None, after={**data, **result}, now=now)
    return result


# ---- the demo county's units and people ---------------------------------------------------------------------

_DEMO_UNITS = [  # (code, name, level, establishment size 编制人数)
    ("QXD01", "县委组织部", "county", 35), ("QXD02", "县农业农村局", "county", 60),
    ("QXD03", "县财政局", "county", 45), ("QXD04", "县教育局", "county", 50),
    ("QXD05", "县自然资源局", "county", 40), ("QXD06", "市供电局清溪分局", "city", 30),
    ("QXD07", "省农村信用社清溪联社", "province", 25),
]
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁"
_GIVEN = ["建国", "海燕", "志强", "丽华", "明亮", "秀英", "文斌", "春梅", "国庆", "晓东", "红霞", "伟"]


def _demo_name(n: int) -> str:
    return _SURNAMES[n % len(_SURNAMES)] + _GIVEN[(n // len(_SURNAMES)) % len(_GIVEN)]


def demo_unit_rows() -> list[tuple[int, dict[str, Any]]]:
    """The demo county's dispatching units (派出单位): county departments and a city and a province unit
    stationed in 清溪县, each with its establishment size."""
    return [(i + 2, {"code": code, "name": name, "kind": "unit", "parent": "QX", "unit_level": level,
                     "establishment_size": size}) for i, (code, name, level, size) in enumerate(_DEMO_UNITS)]


def demo_people_rows(townships: list[OrgUnit], villages: dict[int, list[OrgUnit]]) -> tuple[list[dict[str, Any]],
                                                                                          list[dict[str, Any]]]:
    """Cadres (a fifth of each unit's establishment, 003 三(二), and three per township) and leaders (a county
    leader and two township leaders per township, each contacting one village, 003 三(一))."""
    cadres: list[dict[str, Any]] = []
    for code, _, _, size in _DEMO_UNITS:
        for k in range(size // 5):
            cadres.append({"code": f"{code}-{k + 1:02d}", "name": _demo_name(len(cadres)), "unit": code,
                           "post": "科员" if k else "副科长", "phone": f"0755-8{len(cadres):06d}"})
    leaders: list[dict[str, Any]] = []
    for town in townships:
        for k in range(3):
            cadres.append({"code": f"{town.code}-C{k + 1}", "name": _demo_name(len(cadres)), "unit": town.code,
                           "post": "镇干部", "phone": f"138{len(cadres):08d}"})
        own = villages.get(town.id or 0, [])
        for k, village in enumerate(own[:3]):
            county = k == 0
            leaders.append({"code": f"{town.code}-L{k + 1}", "name": _demo_name(len(leaders) + 7),
                            "level": "county" if county else "township",
                            "post": "县委常委" if county else f"{town.name}党委委员", "village": village.code})
    return cadres, leaders


def seed_demo_people(session: Session) -> dict[str, int]:
    """Add the demo dispatching units, cadres and leaders to the demo county (idempotent, by code)."""
    from tasks.org import import_org_units

    import_org_units(session, demo_unit_rows(), source="demo")
    session.flush()
    units = list(session.exec(select(OrgUnit)))
    townships = sorted((u for u in units if u.kind == "township"), key=lambda u: u.code)
    villages: dict[int, list[OrgUnit]] = {}
    for u in sorted(units, key=lambda u: u.code):
        if u.kind == "village" and u.parent_id is not None:
            villages.setdefault(u.parent_id, []).append(u)
    cadres, leaders = demo_people_rows(townships, villages)
    import_cadres(session, [(i + 2, r) for i, r in enumerate(cadres)], source="demo")
    import_leaders(session, [(i + 2, r) for i, r in enumerate(leaders)], source="demo")
    return {"units": len(_DEMO_UNITS), "cadres": len(cadres), "leaders": len(leaders)}
