"""`agent-platform deploy agents/*.yaml`: agent files kept in git, applied by CI.

Each file (name, description, config — the shape the builder's "Export YAML" writes) creates
the agent of that name or updates it (a new version only when its config changed). Every file
is tried; the exit code is 1 if any was refused (the server's reason is printed, naming the
field or line), 2 for a usage problem (no URL or key).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx

from ._core import yaml_name
from .client import Client
from .errors import ApiError
from .models import AgentDetail


def _deploy_one(client: Client, path: Path, publish: bool) -> str:
    text = path.read_text(encoding="utf-8")
    name = yaml_name(text)
    found = client.agents.find(name) if name else None
    if found is None:
        saved = client.agents.import_yaml(text)
        outcome = f"created (version {saved.current_version})"
    else:
        saved = client.agents.import_yaml(text, agent_id=found.id)
        changed = saved.new_version is not None
        outcome = f"updated to version {saved.new_version}" if changed else "unchanged"
    if publish:
        saved = client.agents.publish(saved.id)
        outcome += ", published"
    return f"{path}: {_label(saved)} {outcome}"


def _label(agent: AgentDetail) -> str:
    return f"{agent.name!r} ({agent.id})"


def _refusal(path: Path, error: ApiError) -> str:
    lines = [f"{path}: {error.detail}"]
    lines += [f"  {field}: {why}" for field, why in error.errors.items() if why != error.detail]
    return "\n".join(lines)


def deploy(files: Sequence[str], *, publish: bool = False, client: Client | None = None) -> int:
    """Apply each agent file; the process exit code."""
    if not files:
        print("agent-platform deploy: name at least one agent file (*.yaml).", file=sys.stderr)
        return 2
    if client is None:
        try:
            client = Client.from_env()
        except ValueError as exc:
            print(f"agent-platform deploy: {exc}", file=sys.stderr)
            return 2
    failed = 0
    with client:
        for name in files:
            path = Path(name)
            try:
                print(_deploy_one(client, path, publish))
            except ApiError as exc:
                failed += 1
                print(_refusal(path, exc), file=sys.stderr)
            except (OSError, UnicodeDecodeError) as exc:
                failed += 1
                print(f"{path}: cannot read this file ({exc})", file=sys.stderr)
            except httpx.HTTPError as exc:
                print(f"agent-platform deploy: cannot reach the platform ({exc})", file=sys.stderr)
                return 1
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="agent-platform",
        description="Agent Platform from the command line "
        "(AGENT_PLATFORM_URL, AGENT_PLATFORM_API_KEY).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    deploying = commands.add_parser("deploy", help="create or update agents from agent files")
    deploying.add_argument("files", nargs="+", metavar="FILE.yaml")
    deploying.add_argument("--publish", action="store_true", help="publish each agent too")
    exporting = commands.add_parser("export", help="print an agent's file (YAML)")
    exporting.add_argument("agent_id")
    args = parser.parse_args(argv)
    if args.command == "deploy":
        return deploy(args.files, publish=args.publish)
    try:
        with Client.from_env() as client:
            sys.stdout.write(client.agents.export_yaml(args.agent_id))
    except ValueError as exc:
        print(f"agent-platform export: {exc}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"agent-platform export: {exc.detail}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
