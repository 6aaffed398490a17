"""``newsstream top``: a live terminal view of workers' Prometheus metrics (rates, latency, lag, verdicts)."""

from __future__ import annotations

import time
import urllib.request
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families
from rich.console import Group
from rich.table import Table

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]

# How each outcome of newsstream_dedup_index_restores_total reads on the screen.
RESTORE_OUTCOMES = {"kept": "kept", "rebuilt": "rebuilt from scratch", "snapshot": "rebuilt from its graph snapshot"}


def parse(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(url: str, timeout_s: float = 2.0) -> Samples:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - URLs the user passed
        return parse(response.read().decode())


# Gauges that several workers hold copies of: the largest, not the sum (a standby's dedup index mirrors the owner's).
COPIED_GAUGES = {"newsstream_dedup_articles"}


def merge(scrapes: Sequence[Samples]) -> Samples:
    """Sum the samples of several workers: counters, histogram buckets and lag gauges all add up."""
    total: defaultdict[tuple[str, Labels], float] = defaultdict(float)
    for samples in scrapes:
        for key, value in samples.items():
            total[key] = max(total[key], value) if key[0] in COPIED_GAUGES else total[key] + value
    return dict(total)


def _label(labels: Labels, name: str) -> str:
    return dict(labels).get(name, "")


def quantile(samples: Samples, earlier: Samples, metric: str, agent_labels: Labels, q: float) -> float | None:
    """The q-quantile of a histogram over the interval between two scrapes (upper bound of the bucket)."""
    buckets = []
    for (name, labels), value in samples.items():
        if name != f"{metric}_bucket":
            continue
        rest = tuple(item for item in labels if item[0] != "le")
        if rest == agent_labels:
            bound = float(_label(labels, "le"))
            buckets.append((bound, value - earlier.get((name, labels), 0.0)))
    buckets.sort()
    if not buckets or buckets[-1][1] <= 0:
        return None
    target = q * buckets[-1][1]
    return next(bound for bound, count in buckets if count >= target)


@dataclass
class Snapshot:
    """Rates and latencies between two scrapes, per agent."""

    seconds: float
    rates_in: dict[str, float] = field(default_factory=dict)
    rates_out: dict[str, float] = field(default_factory=dict)
    latency_p50: dict[str, float | None] = field(default_factory=dict)
    latency_p95: dict[str, float | None] = field(default_factory=dict)
    lag: dict[str, float] = field(default_factory=dict)
    verdicts: dict[str, float] = field(default_factory=dict)
    dead_letters: dict[str, float] = field(default_factory=dict)
    cpu_cores: dict[str, float] = field(default_factory=dict)  # by thread role, all workers added up
    dedup_articles: float = 0.0  # in the index of the worker running decide (a standby's copy is not added)
    index_restores: dict[str, float] = field(default_factory=dict)  # by outcome: kept, snapshot or rebuilt


def snapshot(now: Samples, earlier: Samples, seconds: float) -> Snapshot:
    result = Snapshot(seconds=seconds)
    for (name, labels), value in now.items():
        delta = value - earlier.get((name, labels), 0.0)
        if name == "newsstream_records_in_total":
            result.rates_in[_label(labels, "agent")] = delta / seconds
        elif name == "newsstream_records_out_total":
            agent = _label(labels, "agent")
            result.rates_out[agent] = result.rates_out.get(agent, 0.0) + delta / seconds
        elif name == "newsstream_consumer_lag":
            topic = _label(labels, "topic")
            result.lag[topic] = result.lag.get(topic, 0.0) + value
        elif name == "newsstream_duplicates_total":
            result.verdicts[_label(labels, "tier")] = value
        elif name == "newsstream_dead_letters_total":
            result.dead_letters[f"{_label(labels, 'stage')}/{_label(labels, 'reason')}"] = value
        elif name == "newsstream_thread_cpu_seconds_total":
            result.cpu_cores[_label(labels, "thread")] = delta / seconds
        elif name == "newsstream_dedup_articles":
            result.dedup_articles = value
        elif name == "newsstream_dedup_index_restores_total":
            result.index_restores[_label(labels, "outcome")] = value
    for agent in result.rates_in:
        labels = (("agent", agent),)
        result.latency_p50[agent] = quantile(now, earlier, "newsstream_processing_seconds", labels, 0.5)
        result.latency_p95[agent] = quantile(now, earlier, "newsstream_processing_seconds", labels, 0.95)
    return result


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"<= {seconds * 1000:.0f} ms"


def render(view: Snapshot, sources: Sequence[str], failures: Sequence[str]) -> Group:
    agents = Table(title=f"newsstream top: {len(sources) - len(failures)}/{len(sources)} workers, last {view.seconds:.1f} s")
    for column in ("agent", "in/s", "out/s", "p50 latency", "p95 latency"):
        agents.add_column(column, justify="right" if column != "agent" else "left")
    for agent in sorted(view.rates_in):
        agents.add_row(
            agent, f"{view.rates_in[agent]:.1f}", f"{view.rates_out.get(agent, 0.0):.1f}",
            _ms(view.latency_p50.get(agent)), _ms(view.latency_p95.get(agent)),
        )
    lag = Table(title="consumer lag")
    lag.add_column("topic")
    lag.add_column("messages", justify="right")
    for topic, messages in sorted(view.lag.items()):
        lag.add_row(topic, f"{messages:.0f}")
    totals = Table(title="since start")
    totals.add_column("verdict or dead letter")
    totals.add_column("count", justify="right")
    for tier, count in sorted(view.verdicts.items()):
        totals.add_row(tier, f"{count:.0f}")
    for reason, count in sorted(view.dead_letters.items()):
        totals.add_row(f"dead letter {reason}", f"{count:.0f}")
    totals.add_row("dedup index: articles now", f"{view.dedup_articles:.0f}")
    for outcome, count in sorted(view.index_restores.items()):
        totals.add_row(f"dedup index {RESTORE_OUTCOMES.get(outcome, outcome)} after a recovery", f"{count:.0f}")
    cpu = Table(title="CPU by thread, all workers")
    cpu.add_column("thread")
    cpu.add_column("cores", justify="right")
    for role, cores in sorted(view.cpu_cores.items(), key=lambda item: -item[1]):
        cpu.add_row(role, f"{cores:.2f}")
    parts: list[Table | str] = [agents, lag, totals, cpu]
    parts += [f"[red]cannot scrape {url}" for url in failures]
    return Group(*parts)


def poll(urls: Sequence[str]) -> tuple[Samples, list[str], float]:
    scrapes, failures = [], []
    for url in urls:
        try:
            scrapes.append(scrape(url))
        except OSError:
            failures.append(url)
    return merge(scrapes), failures, time.monotonic()
