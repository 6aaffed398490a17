"""Fixtures for integration tests: the embedded broker over TCP and worker processes, as in production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.broker import EmbeddedBroker, free_port
from streams.settings import Settings, WorkerRole
from streams.topics import create_topics


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as embedded:
        yield embedded


@pytest.fixture
def settings(broker: EmbeddedBroker, tmp_path: Path) -> Settings:
    """Settings with topic names and a consumer group of this test's own, on the shared broker."""
    return settings_on(broker.bootstrap, tmp_path)


def settings_on(bootstrap: str, tmp_path: Path) -> Settings:
    """Settings with topic names and a consumer group of their own on the broker at ``bootstrap``, topics created
    (also for tests that run a broker of their own)."""
    run = f"t{uuid.uuid4().hex[:8]}"
    configured = Settings(
        _env_file=None,
        broker=bootstrap,
        app_id=run,
        topic_raw=f"{run}.raw",
        topic_enriched=f"{run}.enriched",
        topic_duplicates=f"{run}.duplicates",
        topic_events=f"{run}.events",
        topic_deadletter=f"{run}.deadletter",
        topic_analyzed=f"{run}.analyzed",
        data_dir=tmp_path / "worker",
        log_level="warning",
    )
    create_topics(configured)
    return configured


class Workers:
    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []
        self.metrics_ports: list[int] = []

    def start(self, role: WorkerRole = "all", data_of: int | None = None, **settings: object) -> subprocess.Popen[bytes]:
        """A worker process of ``role`` with a metrics port of its own, and a data directory of its own or, as a
        restart on the same machine, that of worker number ``data_of``; ``settings`` override the run's."""
        number = len(self.processes)
        self.metrics_ports.append(free_port())
        own = {**settings, "data_dir": self.data_dir(number if data_of is None else data_of), "metrics_port": self.metrics_ports[-1], "worker_role": role}
        env = {**os.environ, **self.settings.model_copy(update=own).to_env()}
        log = open(self.log_dir / f"worker{number}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen([sys.executable, "-m", "streams.cli", "worker"], env=env, stdout=log, stderr=log)
        self.processes.append(process)
        return process

    def data_dir(self, number: int) -> Path:
        return self.log_dir / f"data{number}"

    def log(self, number: int = 0) -> str:
        return (self.log_dir / f"worker{number}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def workers(settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(settings, tmp_path)
    yield started
    started.stop_all()

