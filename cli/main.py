"""``duban``: run the service, migrate, import, launch."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import Progress

from core.prefect_env import configure_prefect

configure_prefect()

from core.clock import get_clock  # noqa: E402
from core.db import get_engine, session_scope  # noqa: E402
from core.settings import get_settings  # noqa: E402
from domain.errors import DubanError  # noqa: E402
from domain.vocabulary import LatePolicy  # noqa: E402
from flows.quiet import quiet_refusals  # noqa: E402

quiet_refusals()  # a refused launch is the line the command prints, not Prefect's traceback

if TYPE_CHECKING:
    from simulation import SimulationResult
    from tasks.audit import AuditActor

app = typer.Typer(help="督办 duban — campaign orchestration for county Organisation Departments.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
org_app = typer.Typer(help="Organisation hierarchy (county → township → village; dispatching units, cadres, leaders).",
                      no_args_is_help=True)
cal_app = typer.Typer(help="Working-day calendar (statutory holidays and 调休).", no_args_is_help=True)
def_app = typer.Typer(help="Campaign definitions.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(org_app, name="org")
app.add_typer(cal_app, name="calendar")
app.add_typer(def_app, name="definitions")
users_app = typer.Typer(help="Accounts (admin, reviewer, submitter, observer).", no_args_is_help=True)
app.add_typer(users_app, name="users")
audit_app = typer.Typer(help="Tamper-evident audit trail (hash chain).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
ledger_app = typer.Typer(help="Ledgers (台账): lists as Excel workbooks.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _fail(exc: DubanError) -> NoReturn:
    err.print(f"[red]错误：[/red]{exc.detail}", highlight=False)
    raise typer.Exit(2)


@contextmanager
def refusals() -> Iterator[None]:
    """What duban refuses in the block (a ``DubanError``) is printed in Chinese and ends the command with exit
    code 2; nothing else is caught."""
    try:
        yield
    except DubanError as exc:
        _fail(exc)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply Alembic migrations to the configured database."""
    from models.migrate import upgrade

    upgrade(get_settings().effective_database_url, revision)
    out.print(f"数据库已迁移到 {revision}：{_safe_url()}")


def _by() -> AuditActor:
    """The audit trail's actor of a command: ``system:cli:<OS user>``."""
    import getpass

    from tasks.audit import cli_actor

    try:
        return cli_actor(getpass.getuser())
    except (KeyError, OSError):  # no name for this uid (a container)
        return cli_actor("unknown")


def _safe_url() -> str:
    return get_engine().url.render_as_string(hide_password=True)


def _announce(*, sends: bool = False) -> None:
    """Where a command that writes (and sends) acts, before it does: the database and the SMTP server, as the
    settings (the environment, then ``.env``) give them, so that a command never writes to another database or
    mails through another server than ``duban run`` without saying so."""
    settings = get_settings()
    line = f"数据库：{_safe_url()}"
    if sends:
        line += f"；邮件服务器：smtp://{settings.smtp_host}:{settings.smtp_port}"
    err.print(line, highlight=False)


@org_app.command("import")
def org_import(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]) -> None:
    """Import org units from CSV or YAML; a bad row is reported with its line number and nothing is imported."""
    _announce()
    from tasks.audit import record
    from tasks.org import import_org_units, read_org_file

    with refusals():
        rows = read_org_file(file)
        with session_scope() as session:
            result = import_org_units(session, rows, source=file.name)
            record(session, _by(), "org.import", ("org_unit", 0), now=get_clock().now(),
                   after={"file": file.name, "rows": len(rows), **result})
    out.print(f"已导入 {file.name}：新增 {result['created']} 个，更新 {result['updated']} 个组织单位")


@org_app.command("import-people")
def org_import_people(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    kind: Annotated[str, typer.Option(help="cadre (columns code, name, unit, post, phone) or leader "
                                           "(code, name, level, post, phone, village)")] = "cadre",
) -> None:
    """Import cadres (驻村干部) or leaders (挂点领导) from CSV or YAML; all rows or none, errors by line."""
    _announce()
    from tasks.audit import record
    from tasks.cadres import IMPORTERS
    from tasks.org import read_org_file

    if kind not in IMPORTERS:
        out.print("[red]--kind 只能是 cadre（驻村干部）或 leader（挂点领导）[/red]")
        raise SystemExit(2)
    with refusals():
        rows = read_org_file(file)
        with session_scope() as session:
            result = IMPORTERS[kind](session, rows, source=file.name)
            record(session, _by(), f"{kind}.import", (kind, 0), now=get_clock().now(),
                   after={"file": file.name, "rows": len(rows), **result})
    label = "驻村干部" if kind == "cadre" else "挂点领导"
    out.print(f"已导入 {file.name}：新增 {result['created']} 名，更新 {result['updated']} 名{label}")


@app.command("seed-demo")
def seed_demo(
    townships: int = typer.Option(12, min=1, max=2000),
    villages: int = typer.Option(10, min=1, max=200, help="villages per township"),
    seed: int = 2027,
) -> None:
    """Create (or refresh) the fictional demo county 清溪县."""
    _announce()
    from tasks.accounts import DEMO_PASSWORD
    from tasks.demo import seed_demo as seed_county
    from tasks.org import demo_county_rows

    with session_scope() as session:
        done = seed_county(session, get_clock().now(), rows=demo_county_rows(seed, townships, villages), by=_by())
        result, people, users = done["org"], done["people"], done["users"]
    out.print(f"演示县“清溪县”：新增 {result['created']} 个，更新 {result['updated']} 个组织单位；"
              f"派出单位 {people['units']} 个、驻村干部 {people['cadres']} 名、挂点领导 {people['leaders']} 名；"
              f"新增演示账户 {len(users)} 个（密码 {DEMO_PASSWORD}）")


@app.command("launch")
def launch(
    definition: Annotated[str, typer.Option(help="definition key, see `duban definitions list`")],
    year: Annotated[int, typer.Option(help="campaign year")],
    township: Annotated[list[str] | None, typer.Option(help="township code (repeatable)")] = None,
    all_townships: Annotated[bool, typer.Option("--all-townships", help="every township of the county")] = False,
    late: Annotated[LatePolicy, typer.Option(help="deadlines already past: waive them or catch_up")] = LatePolicy.WAIVE,
    catch_up_workdays: Annotated[int, typer.Option(min=1, max=60, help="catch-up: working days after launch")] = 10,
) -> None:
    """Launch a campaign for some or all townships; failures are reported per township, and the deadlines already
    past at launch are listed with what became of them (waived, or owed by a catch-up date)."""
    _announce()
    from domain.planning import LateStart
    from flows.launch import launch_for_townships
    from tasks.launch import LaunchStatus, all_township_codes, check_year
    from tasks.registry import get_definition

    if bool(township) == all_townships:
        err.print("请用 --township CODE（可重复）或 --all-townships 指定乡镇，二选一")
        raise typer.Exit(2)
    with refusals():
        check_year(get_definition(definition), year)
    with session_scope() as session:
        codes = list(township or []) if not all_townships else all_township_codes(session)
    by = _by()
    with Progress(console=out, transient=False) as progress:
        bar = progress.add_task(f"启动 {definition} {year}", total=len(codes))
        items = asyncio.run(
            launch_for_townships(
                definition, year, townships=codes, now=get_clock().now(),
                progress=lambda n: progress.advance(bar, n), late=LateStart(late, catch_up_workdays),
                by=(by.id, by.name),
            )
        )
    created = [i for i in items if i["status"] == LaunchStatus.CREATED]
    exists = [i for i in items if i["status"] == LaunchStatus.EXISTS]
    failed = [i for i in items if i["status"] == LaunchStatus.FAILED]
    out.print(f"新启动 {len(created)} 个，已存在 {len(exists)} 个，失败 {len(failed)} 个")
    for item in created:
        _print_late(item)
    for item in failed:
        err.print(f"[red]{item['township']}[/red]：{item['detail']}", highlight=False)
    if failed:
        raise typer.Exit(1)


def _print_late(item: dict[str, Any]) -> None:
    """The deadlines already past when ``item``'s campaign was launched, one line per deadline and period."""
    from domain.vocabulary import zh_date

    if not item.get("affected"):
        return
    groups: dict[tuple[str, str, Any, Any], list[str]] = {}
    for a in item["affected"]:
        groups.setdefault((a["title"], a["period_label"], a["due_on"], a["catch_up_on"]), []).append(a["subject_name"])
    out.print(f"{item['township']}：{len(item['affected'])} 项截止日期在启动前已过", highlight=False)
    for (title, period, due_on, catch_up_on), subjects in groups.items():
        what = f"限{zh_date(catch_up_on)}前补报" if catch_up_on else "不适用，免于报送"
        out.print(f"  {title}（{period}，{'、'.join(subjects)}）：原定{zh_date(due_on)}截止，{what}", highlight=False)


@cal_app.command("load")
def calendar_load(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Load a year's official holiday arrangement (YAML: year, holidays, makeup_workdays)."""
    _announce()
    from tasks.calendar import read_arrangement_file, reapply_year, save_arrangement

    with refusals():
        arrangement = read_arrangement_file(file)
        with session_scope() as session:
            save_arrangement(session, arrangement, get_clock().now(), note=file.name, by=_by())
            session.flush()
            moved = reapply_year(session, arrangement.year)
    out.print(
        f"已载入 {arrangement.year} 年节假日安排：放假 {len(arrangement.holidays)} 天，"
        f"调休上班 {len(arrangement.makeup_workdays)} 天；已按新安排调整 {moved} 项未到期的截止日期"
    )


@cal_app.command("show")
def calendar_show(year: int) -> None:
    """Where a year's calendar comes from, and the warning if it has no official data."""
    from tasks.calendar import load_work_calendar

    with session_scope() as session:
        calendar = load_work_calendar(session)
    out.print(f"{year}: {calendar.source(year).value}")
    for warning in calendar.warnings([year]):
        out.print(f"[yellow]{warning}[/yellow]")


@def_app.command("list")
def definitions_list() -> None:
    """List the campaign definitions in force."""
    from tasks.registry import get_definitions

    with refusals():
        definitions = get_definitions()
    for key, d in sorted(definitions.items()):
        out.print(f"{key}\t{d.name}\tv{d.version}\t{len(d.stages)} 阶段，{len(d.obligations)} 类截止事项")


@def_app.command("validate")
def definitions_validate(files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Validate definition files; errors name the file and the field."""
    from domain.definitions import load_definition

    bad = 0
    for path in files:
        try:
            d = load_definition(path)
            out.print(f"[green]✓[/green] {path.name}: {d.name}")
        except DubanError as exc:
            bad += 1
            err.print(f"[red]✗[/red] {exc.detail}", highlight=False)
    if bad:
        raise typer.Exit(1)


def _admin(session: Any, username: str) -> Any:
    """The administrator a definitions command acts as (the author of what it publishes or moves)."""
    from sqlmodel import select

    from domain.errors import NotFound
    from models import User
    from tasks.accounts import principal_for, require_admin

    account = session.exec(select(User).where(User.username == username)).first()
    if account is None:
        raise NotFound(f"没有用户名为 {username} 的账户")
    principal = principal_for(session, account)
    require_admin(principal)
    return principal


def _print_errors(exc: DubanError) -> NoReturn:
    """A refused definition, one line per problem with the line of the YAML it comes from."""
    err.print(f"[red]错误：[/red]{exc.detail.split('：', 1)[0] if exc.errors else exc.detail}", highlight=False)
    for e in exc.errors:
        where = f"第{e['line']}行 " if e.get("line") else ""
        err.print(f"  {where}{e.get('field', '')}：{e.get('message', '')}", highlight=False)
    raise typer.Exit(2)


def _print_diff(sections: list[Any]) -> None:
    if not sections:
        out.print("  没有改动")
    for section in sections:
        parts = ([f"新增 {'、'.join(section.added)}"] if section.added else []) + [
            f"修改 {k}（{'、'.join(v)}）" for k, v in section.changed.items()] + (
            [f"删除 {'、'.join(section.removed)}"] if section.removed else [])
        out.print(f"  {section.name}：{'；'.join(parts)}", highlight=False)


UserOption = Annotated[str, typer.Option("--user", help="the administrator's username the command acts as")]


@def_app.command("publish")
def definitions_publish(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="the definition's YAML")],
    note: Annotated[str, typer.Option(help="what changed and on which notice (required)")],
    user: UserOption = "admin",
) -> None:
    """Publish a definition file as the next version of its key (validated as at load; errors name the line)."""
    from tasks import definitions as service
    from tasks.definition_preview import parse_draft
    from tasks.registry import definition_version

    _announce()
    source = file.read_text(encoding="utf-8")
    try:
        key = parse_draft(source).key
        with session_scope() as session:
            row = service.publish(session, _admin(session, user), get_clock().now(), key, source, note)
            sections = service.diff(session, get_clock().now(), key, max(row.version - 1, 1), row.version)
            name = definition_version(key, row.version, session).name
    except DubanError as exc:
        _print_errors(exc)
    out.print(f"已发布“{name}”（{key}）第{row.version}版：{row.note}", highlight=False)
    if row.version > 1:
        out.print(f"与第{row.version - 1}版相比：")
        _print_diff(sections)


@def_app.command("versions")
def definitions_versions(key: str) -> None:
    """Every published version of a definition: author, time, note, retired."""
    from tasks import definitions as service

    with refusals(), session_scope() as session:
        rows = service.versions(session, get_clock().now(), key)
    for v in rows:
        retired = f"，{v['retired_at']:%Y-%m-%d} 停用" if v["retired_at"] else ""
        out.print(f"第{v['version']}版\t{v['name']}\t{v['published_by'] or '随程序发布'}\t"
                  f"{v['published_at']:%Y-%m-%d %H:%M}\t{v['note']}{retired}", highlight=False)


@def_app.command("diff")
def definitions_diff(
    key: str,
    old: Annotated[int, typer.Option("--from", min=1, help="the earlier version")],
    new: Annotated[int, typer.Option("--to", min=1, help="the later version")],
) -> None:
    """What one version of a definition changes from another (stages, gates, forms, deadlines, ladder)."""
    from tasks import definitions as service

    with refusals(), session_scope() as session:
        sections = service.diff(session, get_clock().now(), key, old, new)
    out.print(f"{key} 第{old}版 → 第{new}版：")
    _print_diff(sections)


@def_app.command("migrate")
def definitions_migrate(
    key: str,
    to: Annotated[int, typer.Option("--to", min=1, help="the version to move to")],
    township: Annotated[list[str] | None, typer.Option(help="township code (repeatable); default: every township")] = None,
    year: Annotated[int | None, typer.Option(help="campaign year; default: every year")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="carry it out (without: a preview, nothing is written)")] = False,
    user: UserOption = "admin",
) -> None:
    """Preview (or --apply) moving running campaigns of a definition to a version; refused moves say why."""
    from tasks import migration

    if apply:
        _announce()
    with refusals(), session_scope() as session:
        results = migration.migrate(session, _admin(session, user), get_clock().now(), key, to,
                                    townships=township or None, year=year, apply=apply)
    for m in results:
        out.print(("已迁移 " if m.applied else "") + migration.describe(m), highlight=False)
    refused = sum(1 for m in results if m.refused)
    moved = sum(1 for m in results if m.applied)
    out.print(f"{'已执行' if apply else '预览（未执行，加 --apply 执行）'}：{len(results)} 个督办任务"
              + (f"，迁移 {moved} 个" if apply else "") + (f"，{refused} 个不能迁移" if refused else ""), highlight=False)
    if refused:
        raise typer.Exit(1)


@audit_app.command("verify")
def audit_verify(
    anchors: Annotated[Path | None, typer.Option(
        "--anchors", dir_okay=False, help="an anchor file (duban audit anchor): also prove nothing was cut from the end")] = None,
) -> None:
    """Check the audit trail's hash chain; exit 1 and name the first broken link if it was tampered with."""
    from tasks.anchor import read_anchors, verify_anchors
    from tasks.audit import verify_chain

    with refusals():
        anchored = read_anchors(anchors) if anchors is not None else None
    with session_scope() as session:
        result = verify_chain(session)
        check = verify_anchors(session, anchored) if anchored is not None and result.ok else None
    if not result.ok:
        err.print(
            f"[red]审计链断裂：[/red]第 {result.first_bad_seq} 条记录（seq {result.first_bad_seq}）：{result.reason}",
            highlight=False,
        )
        raise typer.Exit(1)
    if check is not None and not check.ok:
        err.print(f"[red]审计链与锚点不符：[/red]{check.reason}", highlight=False)
        raise typer.Exit(1)
    anchored_line = f"；与 {check.checked} 个锚点一致" if check is not None else ""
    out.print(f"审计链完整：共 {result.checked} 条记录{anchored_line}", highlight=False)


@audit_app.command("anchor")
def audit_anchor(
    file: Annotated[Path | None, typer.Option("--file", dir_okay=False,
                                              help="the anchor file (default: the setting audit_anchor_file)")] = None,
) -> None:
    """Publish the chain's head (seq and hash): append it to the anchor file and mail it to the administrators."""
    _announce(sends=True)
    from tasks.anchor import append_anchor, database_dir

    target = file or get_settings().audit_anchor_file
    with refusals(), session_scope() as session:
        anchor = append_anchor(session, target, get_clock().now(), by=_by(), database_dir=database_dir(get_engine()))
    out.print(f"已记录审计链锚点：第 {anchor.seq} 条，哈希 {anchor.hash}（{target}）", highlight=False)


@app.command("backup")
def backup(out_file: Annotated[Path, typer.Option("--out", help="the backup file to write", dir_okay=False)]) -> None:
    """Back up the configured database (SQLite: online backup API; PostgreSQL: pg_dump -Fc)."""
    from tasks.backup import backup_database

    with refusals():
        info = backup_database(get_settings().effective_database_url, out_file)
    events = f"，含 {info.audit_events} 条审计记录" if info.audit_events is not None else ""
    out.print(f"已备份 {_safe_url()} 到 {info.path}（{info.size} 字节{events}）", highlight=False)


@app.command("restore")
def restore(
    file: Annotated[Path, typer.Argument(help="a file written by duban backup", dir_okay=False)],
    yes: Annotated[bool, typer.Option("--yes", help="confirm that the current database is overwritten")] = False,
) -> None:
    """Replace the configured database with a backup; the file is checked first. Stop the service before."""
    from core.db import reset_engines
    from tasks.audit import verify_chain
    from tasks.backup import check_backup, restore_database

    with refusals():
        check_backup(file)
        if not yes:
            err.print(f"[red]错误：[/red]恢复会覆盖当前数据库 {_safe_url()} 的全部数据；确认无误请加 --yes 重新运行",
                      highlight=False)
            raise typer.Exit(2)
        reset_engines()
        info = restore_database(get_settings().effective_database_url, file)
    reset_engines()
    with session_scope() as session:
        result = verify_chain(session)
    if not result.ok:
        err.print(f"[red]已恢复，但审计链断裂：[/red]{result.reason}", highlight=False)
        raise typer.Exit(1)
    out.print(f"已从 {info.path} 恢复 {_safe_url()}；审计链完整：共 {result.checked} 条记录", highlight=False)


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="admin | reviewer | submitter | observer")],
    display_name: Annotated[str, typer.Option("--name", help="name shown to others")],
    unit: Annotated[str | None, typer.Option(help="org unit code: the county (admin, county reviewer) or a township")] = None,
    level: Annotated[str | None, typer.Option(help="reviewers: township | county")] = None,
    email: Annotated[str | None, typer.Option()] = None,
    scope: Annotated[list[str] | None, typer.Option(help="observers: contact township/village code (repeatable)")] = None,
    password: Annotated[str | None, typer.Option(help="omit to generate one")] = None,
    daily_digest: Annotated[bool, typer.Option("--daily-digest", help="reminders as one mail a day")] = False,
) -> None:
    """Add one account; a generated password is printed once."""
    _announce()
    import secrets

    from tasks.accounts import create_user

    secret = password or secrets.token_urlsafe(12)
    with refusals(), session_scope() as session:
        create_user(session, {
            "username": username, "role": role, "display_name": display_name, "unit": unit, "level": level,
            "email": email, "scopes": scope or [], "password": secret, "daily_digest": daily_digest,
        }, get_clock().now(), by=_by())
    out.print(f"已创建账户 {username}（{role}）" + ("" if password else f"，初始密码：{secret}"))


@users_app.command("import")
def users_import(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Import accounts from CSV (username,display_name,role,level,unit,email,password,scopes,daily_digest); all or nothing."""
    _announce()
    import csv
    import secrets

    from tasks.accounts import create_user

    rows = list(csv.DictReader(file.read_text(encoding="utf-8-sig").splitlines()))
    generated: list[tuple[str, str]] = []
    by = _by()
    with refusals(), session_scope() as session:
        for line, row in enumerate(rows, start=2):
            data = {k.strip(): (v or "").strip() for k, v in row.items() if k}
            if not data.get("password"):
                data["password"] = secrets.token_urlsafe(12)
                generated.append((data.get("username", ""), data["password"]))
            data["scopes"] = [c for c in data.get("scopes", "").replace(";", " ").split() if c]
            data["daily_digest"] = data.get("daily_digest", "").lower() in {"1", "true", "yes", "是"}
            try:
                create_user(session, data, get_clock().now(), by=by)
            except DubanError as exc:
                raise type(exc)(f"{file.name} 第{line}行：{exc.detail}（未导入任何账户）", errors=exc.errors) from None
    out.print(f"已导入 {len(rows)} 个账户")
    for username, secret in generated:
        out.print(f"  {username}：初始密码 {secret}")


@users_app.command("deactivate")
def users_deactivate(username: Annotated[str, typer.Argument()]) -> None:
    """Deactivate an account: no more sign-ins, and its web sessions and API tokens end at once."""
    _announce()
    from tasks.accounts import deactivate_user

    with refusals(), session_scope() as session:
        ended = deactivate_user(session, username, get_clock().now(), actor=_by().name)
    out.print(f"已停用账户 {username}，结束了 {ended} 个登录会话或令牌")


@users_app.command("set-password")
def users_set_password(
    username: Annotated[str, typer.Argument()],
    password: Annotated[str | None, typer.Option(help="omit to generate one")] = None,
) -> None:
    """Set a new password; the account's web sessions and API tokens end at once."""
    _announce()
    import secrets

    from tasks.accounts import set_password

    secret = password or secrets.token_urlsafe(12)
    with refusals(), session_scope() as session:
        ended = set_password(session, username, secret, get_clock().now(), actor=_by().name)
    out.print(f"已为 {username} 设置新密码，结束了 {ended} 个登录会话或令牌" + ("" if password else f"；新密码：{secret}"))


@app.command("tick")
def tick_once(
    at: Annotated[str | None, typer.Option("--at", help="ISO date-time to act as 'now' (default: the clock)")] = None,
    deliver: bool = typer.Option(True, help="also deliver the outbox over SMTP"),
) -> None:
    """Run one tick now (open windows, requests, reminders, digests) and deliver the mail it queued."""
    import datetime as dt

    from core.clock import CHINA_TZ
    from flows.tick import deliver_notifications, tick

    now = get_clock().now()
    if at:
        try:
            now = dt.datetime.fromisoformat(at)
        except ValueError:
            err.print(f"--at：无法识别的时间 {at}，格式如 2027-03-10T09:00")
            raise typer.Exit(2) from None
        now = now if now.tzinfo else now.replace(tzinfo=CHINA_TZ)
    from domain.vocabulary import counts_line

    _announce(sends=deliver)
    counts = asyncio.run(tick(now=now))
    out.print(f"督办巡检（{now.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}）：{counts_line(counts)}", highlight=False)
    if deliver:
        stats = asyncio.run(deliver_notifications(now=now))
        out.print(f"邮件投递：{counts_line(stats)}", highlight=False)


@app.command("simulate")
def simulate(
    townships: int = typer.Option(3, min=1, max=2000),
    villages: int = typer.Option(4, min=1, max=200, help="villages per township"),
    year: int = typer.Option(2026, help="first campaign year"),
    years: int = typer.Option(1, min=1, max=5, help="campaign years launched (year, year+1, …)"),
    seed: int = 1,
    definition: str = "weak_village_rectification",
    on_time: float = typer.Option(0.6, help="share of townships submitting on time"),
    late: float = typer.Option(0.2, help="share submitting late"),
    never: float = typer.Option(0.1, help="share never submitting"),
    hollow: float = typer.Option(0.1, help="share submitting zero/hollow reports (无、暂无)"),
    max_returns: int = typer.Option(2, min=0, max=5, help="reviewers return a report 0..N times"),
    smtp_outage_days: int = typer.Option(0, min=0, help="SMTP server down for K days"),
    restarts: int = typer.Option(0, min=0, help="process restarts (after a tick that crashed half-way)"),
    clock_jump: int = typer.Option(0, min=0, help="days skipped at once (no tick runs)"),
    days: Annotated[int | None, typer.Option(min=1, help="stop after N days (default: the whole campaign)")] = None,
    database_url: Annotated[str | None, typer.Option(help="an empty database to use (default: a temporary SQLite file)")] = None,
    report: Annotated[Path | None, typer.Option(dir_okay=False, help="HTML report (default var/simulation-<seed>.html)")] = None,
) -> None:
    """Run whole campaign years on a virtual clock (real tasks, outbox and SMTP), then check the invariants."""
    from simulation import SimulationConfig, run_simulation

    config = SimulationConfig(
        townships=townships, villages=villages, year=year, years=years, seed=seed, definition=definition,
        on_time=on_time, late=late, never=never, hollow=hollow, max_returns=max_returns,
        smtp_outage_days=smtp_outage_days, restarts=restarts, clock_jump=clock_jump, days=days,
        database_url=database_url, report=report or get_settings().var_dir / f"simulation-{seed}.html",
    )
    with Progress(console=out, transient=False) as progress:
        bar = progress.add_task(f"模拟 {townships} 个乡镇 × {villages} 个村", total=None)
        result = run_simulation(config, progress=lambda n, total: progress.update(bar, completed=n, total=total))
    _show_simulation(result)
    if not result.ok:
        err.print("[red]不变量被违反[/red]")
        raise typer.Exit(1)


def _show_simulation(result: SimulationResult) -> None:
    """The run's numbers as a table and one JSON line, every invariant, the timings and the report's path."""
    import json

    from rich.table import Table

    s = result.summary
    table = Table(title=f"模拟结果（种子 {s['config']['seed']}，{s['period'][0]} 至 {s['period'][1]}）")
    table.add_column("项目")
    table.add_column("数量", justify="right")
    ob = s["obligations"]
    rows = [("应报事项（已到期）", ob["due"]), ("按时完成", ob["on_time"]), ("逾期完成", ob["late"]),
            ("逾期未报", ob["missed"]), ("已报送待审核", ob["pending"]), ("报送通知", s["requests"]),
            ("到期提醒", s["reminders"])]
    rows += [(f"升级：{name}", n) for name, n in s["escalations"].items()]
    rows += [("退回修改", s["submissions"]["returns"]), ("公文", s["documents"]), ("问责案件", s["cases"]),
             ("邮件（SMTP 收到）", s["mail"]["received"])]
    for label, n in rows:
        table.add_row(label, str(n))
    out.print(table)
    out.print("summary: " + json.dumps({k: s[k] for k in ("obligations", "requests", "reminders", "escalations",
                                                             "documents", "cases")}, ensure_ascii=False), highlight=False)
    for inv in result.invariants:
        mark = "[green]✓[/green]" if inv.ok else "[red]✗[/red]"
        out.print(f"{mark} {inv.name}（检查 {inv.checked} 项）" + ("" if inv.ok else "：" + "；".join(inv.problems[:5])),
                  highlight=False)
    out.print("耗时：" + "，".join(f"{k} {v:.1f} 秒" for k, v in result.timings.items()), highlight=False)
    if result.report_path:
        out.print(f"报告：{result.report_path}", highlight=False)


@app.command("run")
def run(
    host: str | None = None,
    port: int | None = None,
    seed: bool = typer.Option(True, help="seed the demo county if the database has no org units"),
) -> None:
    """Migrate, seed the demo county, and serve the API and web UI."""
    from cli.serve import serve

    serve(host=host, port=port, seed=seed)


@ledger_app.command("export")
def ledger_export(
    name: Annotated[str, typer.Argument(help="campaigns, obligations, rectifications or escalations")],
    out_file: Annotated[Path, typer.Option("--out", dir_okay=False, help="the .xlsx file to write")],
    user: Annotated[str, typer.Option(help="export as this account: its township scope applies")] = "admin",
    year: int | None = None,
    township: str | None = None,
    definition: str | None = None,
    campaign: int | None = None,
    status: str | None = None,
) -> None:
    """Write a ledger to an Excel file: the rows the API lists for that account, with the same filters."""
    from sqlmodel import select

    from domain.errors import NotFound
    from models import User
    from tasks.accounts import principal_for
    from tasks.ledger import LedgerFilters, export_ledger

    filters = LedgerFilters(township=township, year=year, definition=definition, campaign=campaign, status=status)
    with refusals(), session_scope() as session:
        account = session.exec(select(User).where(User.username == user)).first()
        if account is None:
            raise NotFound(f"没有用户名为 {user} 的账户")
        content, filename = export_ledger(session, principal_for(session, account), name, filters, get_clock().now())
    out_file.write_bytes(content)
    out.print(f"已导出{filename}（{out_file}）")

def main() -> None:
    try:
        app()
    except DubanError as exc:  # pragma: no cover - last resort for the console
        err.print(f"错误：{exc.detail}")
        sys.exit(2)


if __name__ == "__main__":
    main()
