"""The Grafana dashboards (deploy/grafana/*.json): the design's four views, valid panels, and
every metric a query uses is one `/metrics` exports (a renamed metric breaks this test, not a
dashboard in production)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent_platform.api import create_api
from tests.observability.scrape import exported_names

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
VIEWS = {
    "system-health.json": "System health",
    "agent-performance.json": "Agent performance",
    "llm-usage.json": "LLM usage",
    "business.json": "Business",
}
# PromQL words that are not metric names.
PROMQL = {
    "sum", "min", "max", "avg", "count", "topk", "bottomk", "quantile", "stddev", "stdvar",
    "rate", "irate", "increase", "delta", "histogram_quantile", "abs", "clamp_min", "clamp_max",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "offset", "bool", "vector", "scalar", "time", "sort", "sort_desc", "label_replace",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: what is left once strings, label matchers,
    ranges, grouping clauses, numbers and PromQL's own words are taken out."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', " ", expr)
    stripped = re.sub(r"\{[^}]*\}", " ", stripped)
    stripped = re.sub(r"\[[^\]]*\]", " ", stripped)
    stripped = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", " ", stripped)
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", stripped))
    return {w for w in words if w not in PROMQL}


def load(name: str) -> dict[str, Any]:
    board: dict[str, Any] = json.loads((GRAFANA / name).read_text())
    return board


def expressions(board: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


def test_the_four_views_are_there_with_distinct_uids() -> None:
    assert {p.name for p in GRAFANA.glob("*.json")} == set(VIEWS)
    uids = [load(name)["uid"] for name in VIEWS]
    assert len(set(uids)) == len(uids)
    for name, view in VIEWS.items():
        assert load(name)["title"].endswith(view)


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_every_panel_queries_prometheus_and_fits_the_grid(name: str) -> None:
    board = load(name)
    assert board["panels"]
    assert board["templating"]["list"][0] == {
        **board["templating"]["list"][0],
        "type": "datasource",
    }
    ids = [p["id"] for p in board["panels"]]
    assert len(set(ids)) == len(ids)
    for panel in board["panels"]:
        assert panel["title"] and panel["targets"], panel
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        for target in panel["targets"]:
            assert metric_names(target["expr"]), f"{panel['title']}: no metric in the query"


def test_every_metric_a_dashboard_uses_is_exported() -> None:
    exported = exported_names(
        TestClient(create_api(), client=("127.0.0.1", 1)).get("/metrics").text
    )
    used = {
        (name, metric)
        for name in VIEWS
        for expr in expressions(load(name))
        for metric in metric_names(expr)
    }
    missing = sorted((name, m) for name, m in used if m not in exported)
    assert missing == []
    # The dashboards between them show every design metric.
    assert {
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "agent_executions_total",
        "agent_execution_duration_seconds_bucket",
        "llm_tokens_total",
        "llm_cost_usd_total",
        "queue_depth",
        "workers_alive",
    } <= {m for _name, m in used}


def test_the_name_check_finds_a_metric_we_do_not_export() -> None:
    names = metric_names(
        'sum by (model) (rate(llm_tokens_total{kind="prompt"}[5m])) / on (model) '
        "sum(rate(made_up_metric_total[$__range])) > bool 0.5"
    )
    assert names == {"llm_tokens_total", "made_up_metric_total"}
