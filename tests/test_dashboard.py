"""The Grafana dashboard: every query parses as PromQL (promql-parser) and asks only for metrics the workers export,
grouped only by labels those metrics carry; every exported metric has a panel."""

from __future__ import annotations

import json
from typing import Any

import promql_parser
import pytest

from tests.deployment_files import GRAFANA_DIR

# The workers' metrics and their labels (the monitoring issue's contract). Histograms export _bucket, _sum, _count.
COUNTERS_AND_GAUGES = {
    "newsstream_records_in_total": {"agent"},
    "newsstream_records_out_total": {"agent", "topic"},
    "newsstream_consumer_lag": {"topic", "partition"},
    "newsstream_duplicates_total": {"tier"},
    "newsstream_dead_letters_total": {"reason", "stage"},
    "newsstream_thread_cpu_seconds_total": {"thread"},
    "newsstream_dedup_articles": set(),
    "newsstream_dedup_index_restores_total": {"outcome"},
    "newsstream_dedup_index_rebuild_seconds": set(),
}
HISTOGRAMS = {
    "newsstream_processing_seconds": {"agent"},
    "newsstream_batch_size": {"agent"},
    "newsstream_inference_seconds": {"model"},
}
# Series Prometheus adds to every scrape target.
PROMETHEUS_SERIES = {"up": {"job", "instance"}}
# Grafana's interval variables, replaced by a duration so the query parses as plain PromQL.
GRAFANA_INTERVALS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def series_labels() -> dict[str, set[str]]:
    series = {**COUNTERS_AND_GAUGES, **PROMETHEUS_SERIES}
    for name, labels in HISTOGRAMS.items():
        series |= {f"{name}_bucket": labels | {"le"}, f"{name}_sum": labels, f"{name}_count": labels}
    # Prometheus attaches the target labels to every series it scrapes.
    return {name: labels | {"job", "instance"} for name, labels in series.items()}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return dict(json.loads((GRAFANA_DIR / "dashboards" / "newsstream.json").read_text()))


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]


def parse(expr: str) -> promql_parser.Expr:
    for variable, duration in GRAFANA_INTERVALS.items():
        expr = expr.replace(variable, duration)
    return promql_parser.parse(expr)


def selected_series(expr: promql_parser.Expr) -> list[str]:
    names: list[str] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            names.append(node.name)

    promql_parser.walk(expr, visit)
    return names


def grouping_problems(expr: promql_parser.Expr, labels: dict[str, set[str]]) -> list[str]:
    """Labels an aggregation groups by that none of the series under it carries."""
    problems: list[str] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            available = set().union(*(labels.get(name, set()) for name in selected_series(node.expr)))
            problems.extend(f"{label} in {node}" for label in node.modifier.labels if label not in available)

    promql_parser.walk(expr, visit)
    return problems


def test_every_query_parses_and_selects_only_exported_series(dashboard: dict[str, Any]) -> None:
    known = series_labels()
    for title, expr in queries(dashboard):
        parsed = parse(expr)
        unknown = set(selected_series(parsed)) - set(known)
        assert not unknown, f"{title}: {unknown}"
        assert grouping_problems(parsed, known) == [], title


def test_every_exported_metric_has_a_panel(dashboard: dict[str, Any]) -> None:
    selected = {name for _, expr in queries(dashboard) for name in selected_series(parse(expr))}
    assert set(COUNTERS_AND_GAUGES) <= selected
    for histogram in HISTOGRAMS:
        assert selected & {f"{histogram}_bucket", f"{histogram}_sum"}, histogram


def test_the_checks_reject_an_unknown_metric_and_a_missing_label() -> None:
    known = series_labels()
    assert set(selected_series(parse("rate(newsstream_records_total[5m])"))) - set(known)
    assert grouping_problems(parse("sum by (topic) (rate(newsstream_records_in_total[5m]))"), known)
    with pytest.raises(ValueError):
        parse("sum(rate(newsstream_records_in_total[5m])")


def test_panels_use_the_datasource_variable_and_fit_the_grid(dashboard: dict[str, Any]) -> None:
    (variable,) = dashboard["templating"]["list"]
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"
    reference = {"type": "prometheus", "uid": f"${{{variable['name']}}}"}
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        assert panel["datasource"] == reference, panel["title"]
        assert all(target["datasource"] == reference for target in panel["targets"]), panel["title"]
        assert len({target["refId"] for target in panel["targets"]}) == len(panel["targets"]), panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["w"] > 0 and grid["h"] > 0, panel["title"]
    assert dashboard["uid"] == "newsstream"
