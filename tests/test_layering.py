"""Rules live in services, names say what they are (issue 11 §2, §7).

Read from the source, so a role check copied into a page or state fails here before a review
has to find it: the UI asks `services.access` (`can`, the granted permissions) and the
services refuse with the same table.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

from agent_platform.models import AgentStatus, ExecutionStatus, Role, Tier
from services.agents import AgentSort
from services.memory.documents import CONTENT_TYPES
from state.admin import TIERS
from state.agents import SORTS, STATUSES
from state.dashboard import STATUSES as DASHBOARD_STATUSES
from state.knowledge import ACCEPT
from state.runs import STATUS_CHOICES

ROOT = Path(__file__).resolve().parents[1]
UI_MODULES = sorted([*ROOT.joinpath("state").glob("*.py"), *ROOT.joinpath("pages").glob("*.py")])
PAGE_MODULES = sorted(ROOT.joinpath("pages").glob("*.py"))
# What only the services may use to decide who may do what.
ROLE_RULE_NAMES = {"Role", "ROLE_RANK", "require_role", "at_least", "PERMISSIONS"}
ROLE_VALUES = {role.value for role in Role}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _role_names_compared(tree: ast.Module) -> list[ast.Constant]:
    """Role names in a comparison or a literal tuple/list/set (`role in ("admin", "owner")`),
    not as a dict key or a label (`{"viewer": ...}` is the viewer's time zone)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            operands = list(node.elts)
        else:
            continue
        found += [o for o in operands if isinstance(o, ast.Constant) and o.value in ROLE_VALUES]
    return found


def role_rules(tree: ast.Module) -> list[str]:
    """Every line that decides by role instead of asking `services.access.can`."""
    found = [f"line {c.lineno}: role name {c.value!r}" for c in _role_names_compared(tree)]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found += [f"imports {a.name}" for a in node.names if a.name in ROLE_RULE_NAMES]
        elif isinstance(node, ast.Name) and node.id in ROLE_RULE_NAMES:
            found.append(f"line {node.lineno}: {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in ROLE_RULE_NAMES:
            found.append(f"line {node.lineno}: .{node.attr}")
    return found


def single_letter_aliases(tree: ast.Module) -> list[str]:
    """Module-level names of one letter bound to an import (`State as S`) or another name."""
    found = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found += [f"{a.name} as {a.asname}" for a in node.names if len(a.asname or "") == 1]
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Name | ast.Attribute):
            found += [
                f"line {node.lineno}: {t.id} = …"
                for t in node.targets
                if isinstance(t, ast.Name) and len(t.id) == 1
            ]
    return found


def test_no_role_rule_in_state_or_pages() -> None:
    found = {p.relative_to(ROOT).as_posix(): role_rules(_tree(p)) for p in UI_MODULES}
    assert {k: v for k, v in found.items() if v} == {}, "ask services.access.can instead"


def test_pages_name_their_state_in_full() -> None:
    found = {p.name: single_letter_aliases(_tree(p)) for p in PAGE_MODULES}
    assert {k: v for k, v in found.items() if v} == {}


def test_no_private_helper_is_imported_across_modules() -> None:
    private = [
        f"{path.relative_to(ROOT).as_posix()}: {node.module}.{a.name}"
        for path in UI_MODULES
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.ImportFrom)
        for a in node.names
        if a.name.startswith("_") and not a.name.startswith("__")
    ]
    assert private == []


def test_the_checks_find_what_they_look_for() -> None:
    """Each check can fail: a copied role tuple and a short alias are caught."""
    copied = ast.parse(
        "from agent_platform.models import Role\n"
        "from state.x import XState as S\n"
        "ok = actor.at_least(Role.ADMIN) or role in ('admin', 'owner') or role == 'builder'\n"
        "P = S\n"
        "times = {'viewer': 'UTC'}\n"
    )
    assert len(role_rules(copied)) == 6
    assert single_letter_aliases(copied) == ["XState as S", "line 4: P = …"]


def test_choice_lists_come_from_the_services() -> None:
    """Filters, sorts and accepted uploads offer exactly what the services take."""
    assert STATUS_CHOICES == ["all", *ExecutionStatus]
    assert sorted(DASHBOARD_STATUSES) == sorted(ExecutionStatus)  # every one, once
    assert TIERS == list(Tier)
    assert STATUSES == ["active", *AgentStatus]
    assert list(SORTS) == list(get_args(AgentSort))
    assert {ext: kind for kind, exts in ACCEPT.items() for ext in exts} == CONTENT_TYPES


def test_rqs_execution_is_never_called_like_our_run_model() -> None:
    """`Execution` is our run (agent_platform.models); RQ's record of a job goes by another
    name wherever it is imported."""
    clashes = [
        path.relative_to(ROOT).as_posix()
        for folder in ("agent_platform", "services", "state")
        for path in ROOT.joinpath(folder).rglob("*.py")
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rq")
        for a in node.names
        if (a.asname or a.name) == "Execution"
    ]
    assert clashes == []
