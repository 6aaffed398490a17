import pytest
from prometheus_client import generate_latest
from rich.console import Console

from streams.metrics import Metrics
from streams.top import merge, parse, render, snapshot


def exposition(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()


def test_rates_latency_lag_and_totals_between_two_scrapes() -> None:
    metrics = Metrics()
    metrics.records_in.labels("analyze").inc(10)
    before = parse(exposition(metrics))
    metrics.records_in.labels("analyze").inc(40)
    metrics.records_out.labels("analyze", "analyzed").inc(38)
    metrics.records_out.labels("analyze", "articles.deadletter").inc(2)
    for seconds in [0.02] * 9 + [3.0]:
        metrics.processing_seconds.labels("analyze").observe(seconds)
    metrics.consumer_lag.labels("articles.raw", "0").set(5)
    metrics.consumer_lag.labels("articles.raw", "1").set(7)
    metrics.duplicates.labels("near_duplicate").inc(3)
    metrics.dead_letters.labels("invalid_json", "decode").inc(2)
    metrics.dedup_articles.set(41)
    metrics.dedup_restores.labels("rebuilt").inc()
    metrics.dedup_restores.labels("kept").inc(2)
    metrics.dedup_restores.labels("snapshot").inc()

    view = snapshot(parse(exposition(metrics)), before, seconds=2.0)
    assert view.rates_in["analyze"] == 20.0
    assert view.rates_out["analyze"] == 20.0
    assert view.latency_p50["analyze"] == 0.025  # the bucket holding the median
    assert view.latency_p95["analyze"] == 5.0
    assert view.lag == {"articles.raw": 12}
    assert view.verdicts["near_duplicate"] == 3
    assert view.dead_letters == {"decode/invalid_json": 2}
    assert (view.dedup_articles, view.index_restores) == (41, {"rebuilt": 1, "kept": 2, "snapshot": 1})
    console = Console(width=100, record=True)
    console.print(render(view, ["http://a/metrics"], []))
    screen = console.export_text()
    assert "dedup index: articles now" in screen and "dedup index kept after a recovery" in screen
    assert "dedup index rebuilt from its graph snapshot after a recovery" in screen


def test_cpu_by_thread_in_cores_between_two_scrapes() -> None:
    metric = "newsstream_thread_cpu_seconds_total"
    before = {(metric, (("thread", "models"),)): 100.0, (metric, (("thread", "event_loop"),)): 10.0}
    now = {(metric, (("thread", "models"),)): 101.9, (metric, (("thread", "event_loop"),)): 10.2}
    view = snapshot(now, before, seconds=2.0)
    assert view.cpu_cores == pytest.approx({"models": 0.95, "event_loop": 0.1})
    console = Console(width=100, record=True)
    console.print(render(view, ["http://a/metrics"], []))
    screen = console.export_text()
    assert screen.index("models") < screen.index("event_loop")  # the busiest first
    assert "0.95" in screen and "0.10" in screen


def test_workers_add_up_but_a_standby_index_is_a_copy() -> None:
    first, second = Metrics(), Metrics()
    first.records_in.labels("decide").inc(3)
    second.records_in.labels("decide").inc(4)
    first.dedup_articles.set(100)  # the worker deciding
    second.dedup_articles.set(98)  # the standby, its index a little behind
    total = merge([parse(exposition(first)), parse(exposition(second))])
    assert total[("newsstream_records_in_total", (("agent", "decide"),))] == 7
    assert total[("newsstream_dedup_articles", ())] == 100
