"""Version diff: the canvas layout is one summary row, not a row per node coordinate."""

from __future__ import annotations

from services import agent_versions


def _layout(n: int, moved: int = 0) -> dict[str, dict[str, float]]:
    return {f"node-{i}": {"x": 100.0 * i + (37.5 if i < moved else 0), "y": 50.0} for i in range(n)}


def test_moved_nodes_are_one_row_beside_the_real_change():
    old = {"temperature": 0.5, "layout": _layout(6)}
    new = {"temperature": 0.2, "layout": _layout(6, moved=4)}
    rows = agent_versions.diff_configs(old, new)
    assert [(r.path, r.kind) for r in rows] == [("temperature", "changed"), ("layout", "changed")]
    layout = rows[1]
    assert (layout.old, layout.new) == ("6 nodes placed", "6 nodes placed, 4 moved")


def test_an_unmoved_layout_is_not_a_change():
    config = {"temperature": 0.5, "layout": _layout(6)}
    assert agent_versions.diff_configs(config, {**config, "temperature": 0.1}) == [
        agent_versions.DiffRow("temperature", 0.5, 0.1, "changed")
    ]
    full = agent_versions.diff_configs(config, config, include_same=True)
    assert [r.path for r in full if r.path.startswith("layout")] == ["layout"]


def test_a_layout_appearing_is_added():
    rows = agent_versions.diff_configs({}, {"layout": _layout(2)})
    assert [(r.path, r.old, r.new, r.kind) for r in rows] == [
        ("layout", None, "2 nodes placed", "added")
    ]
