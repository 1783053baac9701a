"""`python -m agent_platform <command>`: up, worker, scheduler, migrate, create-admin, build."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from agent_platform import lifeline
from agent_platform.observability import process
from agent_platform.settings import Settings, SettingsError, get_settings

# What `up` runs as its children (they watch its lifeline).
CHILD_COMMANDS = ("worker", "agent-worker", "scheduler", "web")


def _settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _reachable(*, redis: bool = True) -> Settings:
    """Settings, after checking that the database (and Redis) answer: one line naming the
    URL that does not, at once, instead of minutes of silent reconnecting."""
    from agent_platform.reachability import Unreachable, check_database, check_redis

    settings = _settings()
    try:
        check_database(settings.resolved_database_url)
        if redis:
            check_redis(settings.resolved_redis_url)
    except Unreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    return settings


def cmd_up(args: argparse.Namespace) -> int:
    from agent_platform import migrations, supervisor
    from agent_platform.db import reset_engine

    if args.port:
        os.environ["PORT"] = str(args.port)
        get_settings.cache_clear()
    # The bundled Redis is started later by the supervisor; an external one must answer now.
    settings = _reachable(redis=bool(_settings().redis_url))
    try:
        lock = supervisor.acquire_lock(settings.data_dir)
    except supervisor.AlreadyRunning as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        migrations.upgrade()
        reset_engine()
        supervisor.build_frontend(settings)
    except Exception as exc:  # noqa: BLE001 - one clear line, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sup = supervisor.Supervisor(settings, lock)
    sup.plan()
    code = sup.run()
    lock.close()
    return code


def _serve_metrics(settings: Settings) -> None:
    """A worker alone in its container serves its own /metrics (METRICS_PORT)."""
    if not settings.metrics_port:
        return
    from agent_platform.observability import worker_endpoint

    try:
        worker_endpoint.serve(settings.metrics_port, settings.metrics_token)
    except OSError as exc:
        print(f"error: METRICS_PORT {settings.metrics_port}: {exc.strerror}", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_worker(args: argparse.Namespace) -> int:
    from agent_platform.worker import GENERAL_QUEUES, run_worker

    _serve_metrics(_reachable())
    run_worker(args.queues or list(GENERAL_QUEUES), burst=args.burst)
    return 0


def cmd_agent_worker(args: argparse.Namespace) -> int:
    from agent_platform import run_worker

    _serve_metrics(_reachable())
    run_worker.run(concurrency=args.concurrency or None, burst=args.burst)
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from agent_platform.redis_client import get_redis
    from agent_platform.worker import PlatformScheduler

    _reachable()
    PlatformScheduler(connection=get_redis(), interval=args.interval).run()
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    """Serve the prebuilt frontend and the backend on one port, without rebuilding anything.

    `reflex run --env prod` rebuilds the frontend at every start and `--backend-only` does not
    serve it; this runs Reflex's own production backend with the built frontend mounted.
    """
    from reflex import constants
    from reflex.utils import exec as reflex_exec
    from reflex_base.environment import environment

    settings = _reachable()
    # Reflex would start up to 8 server processes as soon as its state is in Redis; we start
    # exactly WEB_PROCESSES (one per pod when Kubernetes runs several pods instead).
    os.environ["GRANIAN_WORKERS"] = str(settings.web_processes)
    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_SKIP_COMPILE.set(True)
    reflex_exec.run_backend_prod(
        settings.host, settings.port, constants.LogLevel.WARNING, mount_frontend_compiled_app=True
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from agent_platform import migrations

    _reachable(redis=False)
    migrations.upgrade()
    print("database is at the latest schema")
    return 0


def cmd_makemigration(args: argparse.Namespace) -> int:
    from agent_platform import migrations

    _settings()
    migrations.make_revision(args.message)
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from agent_platform import supervisor

    supervisor.build_frontend(_settings(), force=args.force)
    return 0


def cmd_create_admin(args: argparse.Namespace) -> int:
    from agent_platform import migrations
    from agent_platform.db import session_scope
    from services import accounts
    from services.errors import DomainError

    _settings()
    migrations.upgrade()
    password = args.password or os.environ.get("ADMIN_PASSWORD") or ""
    if not password and sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    try:
        with session_scope() as session:
            user = accounts.create_admin(
                session,
                email=args.email,
                name=args.name or args.email.split("@")[0],
                password=password,
            )
            email = user.email
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(f"{email} is an instance admin")
    return 0


def cmd_migrate_secrets(args: argparse.Namespace) -> int:
    """Local store → Vault, all or nothing; uses the VAULT_* settings whatever SECRET_STORE is."""
    from agent_platform import migrations
    from agent_platform.db import session_scope
    from services.errors import DomainError
    from services.secrets import vault_store
    from services.secrets.migrate import MigrationFailed, migrate_to_vault

    _settings()
    migrations.upgrade()
    vault = vault_store()
    try:
        with session_scope() as session:
            report = migrate_to_vault(session, vault)
    except MigrationFailed as exc:
        for problem in exc.report.problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"error: {exc.message} Fix the above and run again.", file=sys.stderr)
        return 1
    except DomainError as exc:
        print(f"error: {exc.message} No local secret was deleted.", file=sys.stderr)
        return 1
    print(f"moved {report.moved} secrets to Vault at {report.url}; all {report.verified} verified")
    print("now set SECRET_STORE=vault and restart the platform")
    return 0


def cmd_test_run(args: argparse.Namespace) -> int:
    from agent_platform import test_cli

    _reachable()
    return test_cli.run_suite_file(
        Path(args.suite),
        args.agent,
        org=args.org,
        repeat=args.repeat,
        junit=Path(args.junit) if args.junit else None,
        timeout=args.timeout,
    )


def main(argv: list[str] | None = None) -> int:
    process.configure()  # JSON logs (or a readable line in a terminal), tracing if set
    parser = argparse.ArgumentParser(prog="python -m agent_platform")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run everything: migrations, Redis, workers, scheduler, web")
    up.add_argument("--port", type=int, default=0, help="serve on this port (default 3000)")
    up.set_defaults(fn=cmd_up)

    worker = sub.add_parser("worker", help="run one RQ worker process")
    worker.add_argument(
        "--queues",
        nargs="*",
        help="queues (default: testing integrations default; `agents` goes to agent-worker)",
    )
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    worker.set_defaults(fn=cmd_worker)

    aw = sub.add_parser("agent-worker", help="run the async agent worker (queue `agents`)")
    aw.add_argument("--concurrency", type=int, default=0, help="runs at once (RUN_CONCURRENCY)")
    aw.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    aw.set_defaults(fn=cmd_agent_worker)

    sched = sub.add_parser("scheduler", help="run the rq-scheduler process")
    sched.add_argument("--interval", type=float, default=5.0)
    sched.set_defaults(fn=cmd_scheduler)

    sub.add_parser("web", help="serve the built app (frontend + backend) on PORT").set_defaults(
        fn=cmd_web
    )
    sub.add_parser("migrate", help="upgrade the database schema").set_defaults(fn=cmd_migrate)

    mk = sub.add_parser("makemigration", help="autogenerate a migration from the models")
    mk.add_argument("message")
    mk.set_defaults(fn=cmd_makemigration)

    build = sub.add_parser("build", help="build the frontend now")
    build.add_argument("--force", action="store_true")
    build.set_defaults(fn=cmd_build)

    admin = sub.add_parser("create-admin", help="create or promote an instance admin")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", default="")
    admin.add_argument("--password", default="", help="or ADMIN_PASSWORD, or asked on a TTY")
    admin.set_defaults(fn=cmd_create_admin)

    sub.add_parser(
        "migrate-secrets", help="move every secret of the local store to Vault (VAULT_* settings)"
    ).set_defaults(fn=cmd_migrate_secrets)

    test = sub.add_parser("test", help="test suites").add_subparsers(dest="action", required=True)
    test_run = test.add_parser("run", help="run a promptfoo-style YAML suite against an agent")
    test_run.add_argument("suite", help="the suite file (YAML)")
    test_run.add_argument("--agent", required=True, help="the agent's name or id")
    test_run.add_argument("--org", default=None, help="the organization's slug")
    test_run.add_argument("--repeat", type=int, default=None, help="runs per case")
    test_run.add_argument("--junit", default=None, help="write a JUnit XML report here")
    test_run.add_argument("--timeout", type=float, default=1800, help="seconds to wait")
    test_run.set_defaults(fn=cmd_test_run)

    args = parser.parse_args(argv)
    if args.command in CHILD_COMMANDS:
        lifeline.watch()  # started by `up`: end with it
    return int(args.fn(args) or 0)
