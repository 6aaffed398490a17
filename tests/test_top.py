from prometheus_client import generate_latest

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

    view = snapshot(parse(exposition(metrics)), before, seconds=2.0)
    assert view.rates_in["analyze"] == 20.0
    assert view.rates_out["analyze"] == 20.0
    assert view.latency_p50["analyze"] == 0.025  # the bucket holding the median
    assert view.latency_p95["analyze"] == 5.0
    assert view.lag == {"articles.raw": 12}
    assert view.verdicts["near_duplicate"] == 3
    assert view.dead_letters == {"decode/invalid_json": 2}
    render(view, ["http://a/metrics"], [])


def test_workers_add_up() -> None:
    first, second = Metrics(), Metrics()
    first.records_in.labels("decide").inc(3)
    second.records_in.labels("decide").inc(4)
    total = merge([parse(exposition(first)), parse(exposition(second))])
    assert total[("newsstream_records_in_total", (("agent", "decide"),))] == 7
