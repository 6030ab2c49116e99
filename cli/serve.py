"""``duban run``: one process with the API, the web UI and a local SMTP sink."""

from __future__ import annotations

import os
from typing import Any

import uvicorn
from rich.console import Console
from sqlalchemy.engine import make_url
from sqlmodel import func, select

from core.db import session_scope
from core.logging import log_config
from core.settings import Settings, get_settings
from domain.definitions import Definition
from models import OrgUnit, User
from models.migrate import upgrade

out = Console()


def _start_channel_sink(settings: Settings) -> Any:
    """The local robot and SMS sink (its messages on /admin/mail); SMS goes to it unless a gateway is set."""
    if not settings.channels_sink:
        return None
    from notifications.sink import SMS_PATH, ChannelSink

    try:
        sink = ChannelSink(port=settings.channels_sink_port, log=settings.var_dir / "channels" / "received.jsonl").start()
    except OSError as exc:
        out.print(f"[yellow]短信与群机器人本地接收端未启动（端口 {settings.channels_sink_port}：{exc.strerror}）[/yellow]")
        return None
    if not settings.sms_gateway_url:
        os.environ["DUBAN_SMS_GATEWAY_URL"] = f"{sink.url}{SMS_PATH}"
        get_settings.cache_clear()
    return sink


def launchable_names(definitions: dict[str, Definition]) -> str:
    """The banner's line of definitions: those a campaign can be launched from (the 督办 desk's containers,
    ``desk: true``, are filled by assigning items, never launched)."""
    return "、".join(f"{d.name}（{k}）" for k, d in sorted(definitions.items()) if not d.desk)


def serve(host: str | None = None, port: int | None = None, seed: bool = True) -> None:
    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    from domain.errors import DubanError
    from tasks.registry import get_definitions

    try:
        definitions = get_definitions()
    except DubanError as exc:
        out.print(f"[red]督办定义有误，无法启动：[/red]{exc.detail}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None
    upgrade(settings.effective_database_url)
    demo_lines = "账户与登录：用 duban users add 创建"
    if seed:
        from core.clock import get_clock
        from tasks.accounts import DEMO_PASSWORD, demo_users
        from tasks.demo import seed_demo

        with session_scope() as session:
            if session.exec(select(func.count()).select_from(OrgUnit)).one() == 0:
                result = seed_demo(session, get_clock().now())["org"]
                out.print(f"已创建演示县“清溪县”：{result['created']} 个组织单位")
            names = {u.username for u in session.exec(select(User))}
        demo = [u for u in demo_users() if u["username"] in names]
        if demo:
            demo_lines = f"（密码均为 {DEMO_PASSWORD}）\n" + "\n".join(
                f"             {u['username']:<16} {u['display_name']}" for u in demo
            )
    sink = None
    if settings.smtp_sink:
        from notifications.sink import start_sink

        sink = start_sink(settings.smtp_host, settings.smtp_port, settings.var_dir / "mail")
    channel_sink = _start_channel_sink(settings)
    base = f"http://{host}:{port}"
    mail = f"smtp://{settings.smtp_host}:{settings.smtp_port}（邮件保存在 {settings.var_dir / 'mail'}）" if sink else "未启动"
    out.print(f"""
[bold]督办 duban 已启动[/bold]
  网页界面   {base}/
  接口文档   {base}/docs
  健康检查   {base}/healthz（就绪 {base}/readyz，指标 {base}/metrics）
  数据库     {make_url(settings.effective_database_url).render_as_string(hide_password=True)}
  督办定义   {launchable_names(definitions)}
  本地邮件   {mail}
  短信与群机器人 {f"{channel_sink.url}（群机器人 Webhook 填 {channel_sink.webhook('wecom', '任意')}；收到的消息见 /admin/mail）" if channel_sink else "未启动"}
  演示账户   {demo_lines}
  接口令牌   curl -s -X POST {base}/api/v1/auth/token -H 'Content-Type: application/json' \\
               -d '{{"username": "admin", "password": "duban-demo-2027"}}'
按 Ctrl+C 停止。
""", highlight=False, soft_wrap=True)
    try:
        uvicorn.run("api.main:app", host=host, port=port, log_level="info", log_config=log_config(settings.log_format))
    finally:
        if sink is not None:
            sink.stop()
        if channel_sink is not None:
            channel_sink.stop()
