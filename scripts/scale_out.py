"""``make scale-out``: duban's scale-out mode on one machine.

PostgreSQL holds two databases, duban's and Prefect's. ``prefect server start`` runs on Prefect's; the
``duban`` process work pool gets the deployments of ``prefect.yaml`` (``prefect deploy --all``); one
``prefect worker start --pool duban`` runs their flow runs (the cron schedules of ``tick`` and
``deliver-notifications``, and runs started by hand); several API processes (uvicorn, ``DUBAN_SCHEDULER=prefect``,
so no embedded scheduler) serve the web UI and the JSON API on the same duban database. With
``DUBAN_SMTP_SINK`` on (the default) this process keeps a local SMTP sink whose mail every API process shows at
``/admin/mail``. Ctrl-C stops everything, newest first.

Environment (defaults in brackets):
  SCALE_OUT_POSTGRES_URL   the PostgreSQL server and user, and the database to connect to for CREATE DATABASE
                           [postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
  SCALE_OUT_DUBAN_DB       duban's database [duban]     (ignored when DUBAN_DATABASE_URL is set)
  SCALE_OUT_PREFECT_DB     Prefect's database [prefect] (ignored when PREFECT_API_DATABASE_CONNECTION_URL is set)
  SCALE_OUT_HOST           where the Prefect server and the API processes listen [127.0.0.1]
  SCALE_OUT_PREFECT_PORT   the Prefect server (API and UI) [4200]
  SCALE_OUT_API_PORTS      one API process per port, separated by spaces or commas [8001 8002]
  DUBAN_SMTP_HOST, DUBAN_SMTP_PORT, DUBAN_SMTP_SINK, DUBAN_VAR_DIR and the other DUBAN_ settings as usual;
  logs of every process go to DUBAN_VAR_DIR/scale-out/.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import SecretStr
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from core.prefect_env import server_environment

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
POOL = "duban"
_DB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class ScaleOutError(RuntimeError):
    """A step of the bring-up failed; the message says which and where its log is."""


@dataclass(frozen=True)
class Config:
    postgres_url: str
    duban_database_url: str
    prefect_database_url: str
    host: str
    prefect_port: int
    api_ports: tuple[int, ...]
    smtp_host: str
    smtp_port: int
    smtp_sink: bool
    var_dir: Path
    schedules: bool = True  # Prefect's scheduler service, which turns the cron schedules into flow runs
    ui: bool = True
    worker: bool = True
    worker_query_seconds: float = 10.0
    seed_demo: bool = True
    startup_timeout: float = 120.0

    @classmethod
    def from_env(cls) -> Config:
        """SCALE_OUT_* from the environment; DUBAN_* as duban reads them (environment or .env)."""
        from core.settings import Settings

        env = os.environ
        settings = Settings()
        pg = make_url(env.get("SCALE_OUT_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
        configured = settings.database_url
        duban = (configured.get_secret_value() if isinstance(configured, SecretStr) else str(configured)) or _url(
            pg, "postgresql+psycopg", env.get("SCALE_OUT_DUBAN_DB", "duban"))
        prefect = env.get("PREFECT_API_DATABASE_CONNECTION_URL") or _url(
            pg, "postgresql+asyncpg", env.get("SCALE_OUT_PREFECT_DB", "prefect"))
        ports = tuple(int(p) for p in re.split(r"[\s,]+", env.get("SCALE_OUT_API_PORTS", "8001 8002").strip()) if p)
        return cls(
            postgres_url=pg.render_as_string(hide_password=False), duban_database_url=duban,
            prefect_database_url=prefect, host=env.get("SCALE_OUT_HOST", "127.0.0.1"),
            prefect_port=int(env.get("SCALE_OUT_PREFECT_PORT", "4200")), api_ports=ports,
            smtp_host=settings.smtp_host, smtp_port=settings.smtp_port, smtp_sink=settings.smtp_sink,
            var_dir=settings.var_dir,
        )

    @property
    def prefect_api_url(self) -> str:
        return f"http://{self.host}:{self.prefect_port}/api"

    @property
    def prefect_home(self) -> Path:
        return self.var_dir / "prefect"

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "scale-out"

    def api_urls(self) -> list[str]:
        return [f"http://{self.host}:{port}" for port in self.api_ports]

    def environment(self) -> dict[str, str]:
        """What every process of the stack runs with: the shell's environment plus the stack's own settings."""
        env = {"PREFECT_LOGGING_LEVEL": "WARNING"} | dict(os.environ)
        return env | server_environment(os.environ) | {
            "PREFECT_HOME": str(self.prefect_home),
            "PREFECT_API_URL": self.prefect_api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # telemetry cannot reach its server from a closed network
            "DUBAN_HOME": str(REPO),  # the pull step of prefect.yaml: flow runs start in this checkout
            "DUBAN_DATABASE_URL": self.duban_database_url,
            "DUBAN_VAR_DIR": str(self.var_dir),
            "DUBAN_SCHEDULER": "prefect",
            "DUBAN_SMTP_HOST": self.smtp_host,
            "DUBAN_SMTP_PORT": str(self.smtp_port),
            "DUBAN_SMTP_SINK": "false",  # one sink for the stack (here), not one per API process
        }


def _url(server: URL, driver: str, database: str) -> str:
    return server.set(drivername=driver, database=database).render_as_string(hide_password=False)


def _database_name(url: str) -> str:
    name = make_url(url).database or ""
    if not _DB_NAME.match(name):
        raise ScaleOutError(f"数据库名不可用：{name!r}（{make_url(url).render_as_string()}）")
    return name


def _admin_url(postgres_url: str, url: str) -> str:
    """The server, user and password of ``url``, with the driver and the maintenance database of ``postgres_url``."""
    admin = make_url(postgres_url)
    return make_url(url).set(drivername=admin.drivername, database=admin.database).render_as_string(
        hide_password=False)


def create_database(postgres_url: str, url: str) -> bool:
    """Create the database ``url`` names unless it exists; True if created. ``postgres_url`` names the database
    to connect to meanwhile (its server and user are those of ``url``, which needs CREATEDB for a new one)."""
    name = _database_name(url)
    admin = create_engine(_admin_url(postgres_url, url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                return False
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            return True
    finally:
        admin.dispose()


def drop_database(postgres_url: str, url: str) -> None:
    name = _database_name(url)
    admin = create_engine(_admin_url(postgres_url, url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def prepare_duban_database(config: Config) -> None:
    """Migrate duban's database and, when it has no org units yet, seed the demo county as ``duban run`` does."""
    from sqlmodel import func, select

    from core.clock import get_clock
    from core.db import session_scope
    from models import OrgUnit
    from models.migrate import upgrade
    from tasks.demo import seed_demo

    upgrade(config.duban_database_url)
    if not config.seed_demo:
        return
    engine = create_engine(config.duban_database_url)
    try:
        with session_scope(engine) as session:
            if session.exec(select(func.count()).select_from(OrgUnit)).one() == 0:
                seed_demo(session, get_clock().now(), samples=False)
    finally:
        engine.dispose()


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class Stack:
    """The running processes of one scale-out bring-up; ``stop()`` ends them all, newest first."""

    config: Config
    processes: list[Process] = field(default_factory=list)
    sink: Any = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step of the bring-up

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        self.timings[name] = time.monotonic() - started

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Process:
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.config.log_dir / f"{name}.log"
        out: IO[bytes] = log.open("ab")
        try:
            # A session of its own: Ctrl-C reaches this process only, which stops the others in order.
            popen = subprocess.Popen(args, cwd=REPO, env=env or self.config.environment(), stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            out.close()
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def run(self, name: str, args: list[str]) -> str:
        """Run a command of the bring-up to its end; its output goes to the log, and failing stops the bring-up."""
        result = subprocess.run(args, cwd=REPO, env=self.config.environment(), capture_output=True, text=True,
                                timeout=self.config.startup_timeout)
        self.config.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.config.log_dir / f"{name}.log").open("a", encoding="utf-8") as log:
            log.write(result.stdout + result.stderr)
        if result.returncode != 0:
            raise ScaleOutError(f"{' '.join(args[1:])} 失败（退出码 {result.returncode}）：\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def wait_http(self, process: Process, url: str) -> None:
        deadline = time.monotonic() + self.config.startup_timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except OSError:
                if process.popen.poll() is not None:
                    raise ScaleOutError(f"{process.name} 已退出（退出码 {process.popen.returncode}），日志 {process.log}：\n"
                                        + _tail(process.log)) from None
                if time.monotonic() > deadline:
                    raise ScaleOutError(f"{process.name} 未在 {url} 应答，日志 {process.log}：\n"
                                        + _tail(process.log)) from None
                time.sleep(0.5)

    def stop(self, timeout: float = 20.0) -> None:
        for process in reversed(self.processes):
            _stop_group(process.popen, timeout)
        self.processes.clear()
        if self.sink is not None:
            self.sink.stop()
            self.sink = None

    def failed(self) -> Process | None:
        return next((p for p in self.processes if p.popen.poll() is not None), None)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc (Linux). Prefect starts each flow run in a session of its own, so
    signalling the worker's process group does not reach them."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _stop_group(popen: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM to the process group (a worker, uvicorn), SIGKILL to whatever of it and below it lingers."""
    below = _descendants(popen.pid)
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, signal.SIGKILL)
    popen.wait()
    for pid in below:  # flow runs still going: each tick and delivery is idempotent, the next run redoes it
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def check_port_free(host: str, port: int, setting: str) -> None:
    """A port already taken would answer the health checks for a process that never started."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is no conflict
        try:
            s.bind((host, port))
        except OSError:
            raise ScaleOutError(f"端口 {host}:{port} 已被占用，请用 {setting} 换一个") from None


def prefect(*args: str) -> list[str]:
    return [str(BIN / "prefect"), *args]


def start_prefect_server(stack: Stack) -> Process:
    config = stack.config
    env = config.environment() | {"PREFECT_API_DATABASE_CONNECTION_URL": config.prefect_database_url}
    args = ["server", "start", "--host", config.host, "--port", str(config.prefect_port)]
    args += [] if config.schedules else ["--no-scheduler"]
    args += [] if config.ui else ["--no-ui"]
    # A plain `prefect server start`: with SQLAlchemy 2.0 (pinned) its scheduler creates runs unpatched.
    server = stack.start("prefect-server", prefect(*args), env)
    stack.wait_http(server, f"{config.prefect_api_url}/health")
    return server


def deploy(stack: Stack) -> None:
    """The ``duban`` process work pool and every deployment of ``prefect.yaml`` (both are updated when they exist)."""
    stack.run("deploy", prefect("work-pool", "create", POOL, "--type", "process", "--overwrite"))
    stack.run("deploy", prefect("--no-prompt", "deploy", "--all"))


def start_worker(stack: Stack, name: str = "worker") -> Process:
    env = stack.config.environment() | {"PREFECT_WORKER_QUERY_SECONDS": str(stack.config.worker_query_seconds)}
    return stack.start(name, prefect("worker", "start", "--pool", POOL, "--name", f"duban-{name}-{os.getpid()}"), env)


def start_api(stack: Stack, port: int) -> Process:
    args = [str(BIN / "python"), "-m", "uvicorn", "api.main:app", "--host", stack.config.host, "--port", str(port)]
    api = stack.start(f"api-{port}", args)
    stack.wait_http(api, f"http://{stack.config.host}:{port}/healthz")
    return api


@contextlib.contextmanager
def scale_out(config: Config) -> Iterator[Stack]:
    """Bring the whole stack up; it is torn down when the block ends, however it ends."""
    stack = Stack(config)
    try:
        check_port_free(config.host, config.prefect_port, "SCALE_OUT_PREFECT_PORT")
        for port in config.api_ports:
            check_port_free(config.host, port, "SCALE_OUT_API_PORTS")
        if config.smtp_sink:
            check_port_free(config.smtp_host, config.smtp_port, "DUBAN_SMTP_PORT")
        with stack.step("数据库"):
            create_database(config.postgres_url, config.duban_database_url)
            create_database(config.postgres_url, config.prefect_database_url)
            prepare_duban_database(config)
        if config.smtp_sink:
            from notifications.sink import start_sink

            stack.sink = start_sink(config.smtp_host, config.smtp_port, config.var_dir / "mail")
        with stack.step("Prefect 服务"):
            start_prefect_server(stack)
        with stack.step("部署"):
            deploy(stack)
        if config.worker:
            start_worker(stack)
        with stack.step("接口进程"):
            for port in config.api_ports:
                start_api(stack, port)
        yield stack
    finally:
        stack.stop()


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> int:
    config = Config.from_env()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    safe = make_url(config.duban_database_url).render_as_string(hide_password=True)
    print(f"督办 duban 扩展部署启动中：PostgreSQL {safe}，日志在 {config.log_dir}", flush=True)
    try:
        with scale_out(config) as stack:
            mail = (f"smtp://{config.smtp_host}:{config.smtp_port}（邮件保存在 {config.var_dir / 'mail'}）"
                    if config.smtp_sink else f"smtp://{config.smtp_host}:{config.smtp_port}")
            apis = "\n".join(f"  网页与接口   {url}/   {url}/docs" for url in config.api_urls())
            print(f"""
督办 duban 扩展部署已启动
{apis}
  Prefect      http://{config.host}:{config.prefect_port}/（PREFECT_API_URL={config.prefect_api_url}）
  工作池       {POOL}：1 个 worker，部署来自 prefect.yaml
  数据库       {safe}
  邮件         {mail}
  日志         {config.log_dir}
  启动耗时     {"，".join(f"{name} {seconds:.1f} 秒" for name, seconds in stack.timings.items())}
按 Ctrl+C 停止全部进程。""", flush=True)
            while (failed := stack.failed()) is None:
                time.sleep(1)
            print(f"{failed.name} 已退出（{failed.popen.returncode}），正在停止其余进程；日志：{failed.log}\n"
                  + _tail(failed.log), file=sys.stderr, flush=True)
            return 1
    except KeyboardInterrupt:
        print("\n已停止。", flush=True)
        return 0
    except ScaleOutError as exc:
        print(f"启动失败：{exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
