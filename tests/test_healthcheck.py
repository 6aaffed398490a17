"""The health endpoint and the container health check: healthy only once the agents run and while the event loop
beats; the check probes the address the settings say the worker serves."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest

from streams.broker import free_port
from streams.healthcheck import check, health_url
from streams.metrics import Metrics
from streams.settings import Settings


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:9464/healthz"),
        ("127.0.0.1", "http://127.0.0.1:9464/healthz"),
        ("10.1.2.3", "http://10.1.2.3:9464/healthz"),
        ("::", "http://[::1]:9464/healthz"),
        ("fd00::7", "http://[fd00::7]:9464/healthz"),
    ],
)
def test_health_url_probes_the_served_address(bind: str, url: str) -> None:
    assert health_url(Settings(_env_file=None, metrics_bind=bind, metrics_port=9464)) == url


def served(max_age_s: float = 30.0) -> tuple[Metrics, Settings]:
    metrics = Metrics()
    settings = Settings(_env_file=None, metrics_bind="127.0.0.1", metrics_port=0, health_max_heartbeat_age_s=max_age_s)
    port = metrics.serve(settings)
    return metrics, settings.model_copy(update={"metrics_port": port})


def test_unhealthy_while_starting_healthy_while_beating_unhealthy_when_stalled() -> None:
    metrics, settings = served(max_age_s=1.0)
    starting = check(settings)
    assert starting is not None and "503" in starting and "not started" in starting

    metrics.beat()
    assert check(settings) is None

    time.sleep(1.5)  # no beat: the event loop would be stuck
    stalled = check(settings)
    assert stalled is not None and "stalled" in stalled


def test_metrics_are_served_beside_the_health_endpoint() -> None:
    metrics, settings = served()
    metrics.records_in.labels("analyze").inc(3)
    metrics.beat()
    text = urllib.request.urlopen(f"http://127.0.0.1:{settings.metrics_port}/metrics", timeout=5).read().decode()
    assert 'newsstream_records_in_total{agent="analyze"} 3.0' in text
    assert "newsstream_heartbeat_timestamp_seconds" in text


def test_unhealthy_when_nothing_listens_or_metrics_are_off() -> None:
    problem = check(Settings(_env_file=None, metrics_port=free_port()), timeout_s=2)
    assert problem is not None and "/healthz" in problem
    off = check(Settings(_env_file=None, metrics_enabled=False))
    assert off is not None and "disabled" in off


def test_module_exit_status_follows_the_environment() -> None:
    """As Docker runs it: `python -m streams.healthcheck`, configured only through NEWSSTREAM_* variables."""
    metrics, settings = served()
    metrics.beat()
    base = {key: value for key, value in os.environ.items() if not key.startswith("NEWSSTREAM_")}

    def run(port: int) -> subprocess.CompletedProcess[str]:
        env = {**base, "NEWSSTREAM_METRICS_BIND": "0.0.0.0", "NEWSSTREAM_METRICS_PORT": str(port)}
        return subprocess.run(
            [sys.executable, "-m", "streams.healthcheck"], env=env, capture_output=True, text=True, timeout=60
        )

    assert run(settings.metrics_port).returncode == 0
    failed = run(free_port())
    assert failed.returncode == 1 and "unhealthy" in failed.stderr
