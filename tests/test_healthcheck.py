"""The container health check probes the worker's metrics endpoint where the settings say it is served."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from streams.healthcheck import check, metrics_url
from streams.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def metrics_port() -> Iterator[int]:
    registry = CollectorRegistry()
    Counter("healthcheck_probe", "a metric to serve", registry=registry).inc()
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    yield int(server.server_address[1])
    server.shutdown()
    thread.join(timeout=5)


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:9464/metrics"),
        ("127.0.0.1", "http://127.0.0.1:9464/metrics"),
        ("10.1.2.3", "http://10.1.2.3:9464/metrics"),
        ("::", "http://[::1]:9464/metrics"),
        ("fd00::7", "http://[fd00::7]:9464/metrics"),
    ],
)
def test_metrics_url_probes_the_served_address(bind: str, url: str) -> None:
    assert metrics_url(Settings(_env_file=None, metrics_bind=bind, metrics_port=9464)) == url


def test_healthy_when_the_endpoint_answers(metrics_port: int) -> None:
    assert check(Settings(_env_file=None, metrics_bind="0.0.0.0", metrics_port=metrics_port)) is None


def test_unhealthy_when_nothing_listens_or_metrics_are_off() -> None:
    problem = check(Settings(_env_file=None, metrics_port=free_port()), timeout_s=2)
    assert problem is not None and "/metrics" in problem
    off = check(Settings(_env_file=None, metrics_enabled=False))
    assert off is not None and "disabled" in off


def test_module_exit_status_follows_the_environment(metrics_port: int) -> None:
    """As Docker runs it: `python -m streams.healthcheck`, configured only through NEWSSTREAM_* variables."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("NEWSSTREAM_")}

    def run(port: int) -> subprocess.CompletedProcess[str]:
        env = {**base, "NEWSSTREAM_METRICS_BIND": "0.0.0.0", "NEWSSTREAM_METRICS_PORT": str(port)}
        return subprocess.run(
            [sys.executable, "-m", "streams.healthcheck"], env=env, capture_output=True, text=True, timeout=60
        )

    assert run(metrics_port).returncode == 0
    failed = run(free_port())
    assert failed.returncode == 1 and "unhealthy" in failed.stderr
