"""The throughput benchmark's inputs and report, without models or a broker (the benchmark itself is `make bench`)."""

import re
from itertools import islice
from pathlib import Path

import orjson
import pytest
from prometheus_client import generate_latest
from rich.console import Console

from models import RawArticle
from streams.benchmarks.articles import Source, generated_articles, resolve_source, warmup_articles
from streams.benchmarks.throughput import (
    Latency,
    Report,
    Run,
    cpu_by_thread,
    report_table,
    shares,
    where_the_time_goes,
)
from streams.metrics import Metrics
from streams.top import parse


def test_generated_articles_are_valid_reproducible_news_sized_and_include_copies() -> None:
    articles = list(islice(generated_articles(), 400))
    assert articles == list(islice(generated_articles(), 400))
    records = [RawArticle.model_validate_json(article.value) for article in articles]
    assert len({record.id for record in records}) == 400
    words = [len(record.body.split()) for record in records]
    assert 200 <= sum(words) / len(words) <= 350
    bodies = [record.body for record in records]
    assert 0 < len(bodies) - len(set(bodies)) < 40  # a few republished copies, not many
    assert not {article.id for article in islice(warmup_articles(), 50)} & {record.id for record in records}


def test_auto_falls_back_to_generated_and_bbc_refuses_when_the_dataset_is_absent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NEWSSTREAM_DATASETS", str(tmp_path))
    source, described = resolve_source(Source.AUTO)
    assert source is Source.GENERATED and str(tmp_path) in described
    with pytest.raises(FileNotFoundError, match="BBC News not found"):
        resolve_source(Source.BBC)
    (tmp_path / "bbc_news_fulltext").mkdir()
    (tmp_path / "bbc_news_fulltext" / "bbc_news.jsonl").write_bytes(
        orjson.dumps({"id": "tech/001.txt", "title": "A title", "body": "A body."}) + b"\n"
    )
    assert resolve_source(Source.AUTO)[0] is Source.BBC


def test_report_shows_ratios_goals_and_the_one_million_a_day_check() -> None:
    report = Report(
        floor_before=Run(100, 9.5, 12.0), floor_after=Run(100, 10.5, 16.0), naive=Run(100, 40.0, 45.0), naive_ready_s=5.0,
        newsstream=Run(100, 10.5, 15.5), ready_s=8.0,
        latency=Latency(rate=4.8, articles=288, p50=0.4, p95=0.8, max=1.2, histogram_p50=0.5, histogram_p95=1.0),
    )
    console = Console(width=160, record=True)
    console.print(report_table(report, workers=1))
    text = console.export_text()
    assert "10.53/s" in text and "9.52/s" in text  # the floor before and after (c)
    assert "10.00/s" in text  # both together: 200 articles in 20 s
    assert "0.95" in text  # c/a, against both together
    assert "3.81" in text  # c/b, below its goal of 4
    assert "822,857/day" in text  # 9.5/s: short of 1M a day
    assert "140 / 450 / 155 ms" in text  # CPU an article: 28 s over 200 floor articles, 45 s, 15.5 s over 100
    assert re.search(r"\(a\)/\(c\) CPU an article\s*│\s*0\.90\s", text)
    met = re.findall(r"│\s*(yes|no)\s*│$", text, flags=re.MULTILINE)
    assert met == ["yes", "no", "yes", "yes", "no"]  # c/a, c/b, p95, start to ready, 1M a day


def test_where_the_time_goes_reads_means_between_two_scrapes() -> None:
    metrics = Metrics()
    metrics.batch_size.labels("analyze").observe(8)  # before the interval: not counted
    before = parse(generate_latest(metrics.registry).decode())
    for size, seconds in ((2, 0.5), (4, 0.7)):
        metrics.batch_size.labels("analyze").observe(size)
        metrics.processing_seconds.labels("analyze").observe(seconds)
    metrics.inference_seconds.labels("embedding").observe(0.1)
    metrics.inference_seconds.labels("spacy").observe(0.3)
    metrics.processing_seconds.labels("decide").observe(0.002)
    summary = where_the_time_goes(before, parse(generate_latest(metrics.registry).decode()))
    assert summary == (
        "3.0 articles a batch, 0.600 s a batch in analyze (embedding 0.100 s, spaCy 0.300 s), 2.0 ms an article in decide"
    )


def test_cpu_by_thread_divides_each_roles_cpu_between_two_scrapes_by_the_articles() -> None:
    metric = "newsstream_thread_cpu_seconds_total"
    before = {(metric, (("thread", "models"),)): 10.0, (metric, (("thread", "event_loop"),)): 2.0}
    after = {(metric, (("thread", "models"),)): 16.0, (metric, (("thread", "event_loop"),)): 2.5,
             (metric, (("thread", "embedding"),)): 2.4, ("newsstream_records_in_total", (("agent", "analyze"),)): 7.0}
    assert cpu_by_thread(before, after, 100) == "models 60.0 ms, embedding 24.0 ms, event_loop 5.0 ms"
    assert cpu_by_thread({}, {}, 100) == "not measured (no /proc)"


def test_shares_report_each_workers_articles_and_cpu_between_two_scrapes() -> None:
    analyse, decide = (("newsstream_records_in_total", (("agent", agent),)) for agent in ("analyze", "decide"))
    models, loop = (("newsstream_thread_cpu_seconds_total", (("thread", role),)) for role in ("models", "event_loop"))
    before = [{analyse: 1.0, decide: 2.0, models: 3.0, loop: 1.0}, {analyse: 1.0, models: 2.0, loop: 0.5}]
    after = [{analyse: 311.0, decide: 602.0, models: 28.0, loop: 4.5}, {analyse: 291.0, models: 25.0, loop: 1.0}]
    assert shares(before, after) == (
        "worker 1 analysed 310 and decided 600 with 28.5 s of CPU; worker 2 analysed 290 and decided 0 with 23.5 s of CPU"
    )
