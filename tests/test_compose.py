"""docker-compose.yml: valid against the Compose specification, wired the way the README says, configured by Settings.

There is no Docker engine here: the file is checked, not run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml

from streams.topics import topic_specs
from tests.deployment_files import (
    COMPOSE_FILE,
    ROOT,
    SETTINGS_VARIABLES,
    project_version,
    settings_from_variables,
    unpinned_reason,
)

NEWSSTREAM_IMAGE = f"newsstream:{project_version()}"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))


def services_of_image(compose: dict[str, Any], image: str) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose["services"].items() if service.get("image") == image}


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of each relative bind mount, read-only flag dropped."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            mounts.append((source, target))
    return mounts


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    """check-jsonschema with the Compose schema it vendors (from compose-spec): no download at test time."""
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_image_is_pinned_and_ours_carries_the_project_version(compose: dict[str, Any]) -> None:
    images = {name: service["image"] for name, service in compose["services"].items()}
    assert all("image" in service for service in compose["services"].values()), "every service names its image"
    assert [reason for image in images.values() if (reason := unpinned_reason(image))] == []
    built = [name for name, service in compose["services"].items() if "build" in service]
    assert built == ["topics"] and images["topics"] == NEWSSTREAM_IMAGE
    assert compose["services"]["topics"]["build"]["dockerfile"] == "deploy/Dockerfile"


def test_newsstream_services_are_configured_only_by_settings_fields(compose: dict[str, Any]) -> None:
    services = services_of_image(compose, NEWSSTREAM_IMAGE)
    assert set(services) == {"topics", "worker", "publish"}
    for name, service in services.items():
        variables = service["environment"]
        assert set(variables) <= SETTINGS_VARIABLES, f"{name}: {set(variables) - SETTINGS_VARIABLES}"
        settings = settings_from_variables(variables)  # the values parse, too
        assert settings.broker == "kafka:9092", name
    # Workers, topic job and publisher agree on the cluster, the group and the topics.
    assert len({tuple(sorted(service["environment"].items())) for service in services.values()}) == 1


def test_kafka_runs_kraft_on_a_durable_volume_without_auto_created_topics(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    environment = kafka["environment"]
    assert set(environment["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    named_volumes = {volume.split(":")[1]: volume.split(":")[0] for volume in kafka["volumes"]}
    assert named_volumes[environment["KAFKA_LOG_DIRS"]] in compose["volumes"]
    # The bootstrap address the newsstream services use is a listener Kafka advertises.
    advertised = {listener.split("://")[1] for listener in environment["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    worker_broker = compose["services"]["worker"]["environment"]["NEWSSTREAM_BROKER"]
    assert worker_broker in advertised


def test_topics_job_runs_once_before_workers_and_publisher(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["topics"]["command"] == ["newsstream", "topics"]
    assert services["topics"]["restart"] == "no"
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in ("worker", "publish"):
        assert services[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    # The job creates the compacted dedup changelog among the rest (streams/topics.py owns the layout).
    settings = settings_from_variables(services["topics"]["environment"])
    compacted = [spec.name for spec in topic_specs(settings) if spec.compacted]
    assert compacted == ["newsstream-dedup-changelog"]


def test_two_workers_share_one_consumer_group(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert worker["command"] == ["newsstream", "worker"]
    assert worker["deploy"]["replicas"] == 2
    settings = settings_from_variables(worker["environment"])
    assert settings.app_id == "newsstream"
    assert settings.partitions >= worker["deploy"]["replicas"], "a worker beyond the raw partitions sits idle"


def test_publisher_publishes_the_bundled_sample_feed(compose: dict[str, Any]) -> None:
    publish = compose["services"]["publish"]
    command = publish["command"]
    assert command[:2] == ["newsstream", "publish"] and len(command) > 2
    mounts = bind_mounts(publish)
    for feed in map(PurePosixPath, command[2:]):
        host = [source for source, target in mounts if PurePosixPath(target) in feed.parents]
        assert host, f"{feed} is not in a mounted directory"
        assert (ROOT / host[0] / feed.name).is_file()
    assert "./streams/data" in dict(mounts) and (ROOT / "streams/data/sample_feed.xml").is_file()


def test_every_bind_mounted_file_is_in_the_repository(compose: dict[str, Any]) -> None:
    mounted = [(name, source) for name, service in compose["services"].items() for source, _ in bind_mounts(service)]
    assert len(mounted) >= 4
    assert [(name, source) for name, source in mounted if not (ROOT / source).exists()] == []


def test_prometheus_scrapes_every_worker_on_its_metrics_port(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    config_file = dict(bind_mounts(prometheus))["./deploy/prometheus/prometheus.yml"]
    assert f"--config.file={config_file}" in prometheus["command"]
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "newsstream"]
    (discovery,) = job["dns_sd_configs"]
    worker_settings = settings_from_variables(compose["services"]["worker"]["environment"])
    assert discovery["names"] == ["worker"] and discovery["type"] == "A"
    assert discovery["port"] == worker_settings.metrics_port
    assert worker_settings.metrics_enabled and worker_settings.metrics_bind == "0.0.0.0"


def test_grafana_gets_the_prometheus_datasource_and_the_dashboard(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    mounts = dict(bind_mounts(grafana))
    provisioning = ROOT / "deploy/grafana/provisioning"
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    (provider,) = yaml.safe_load((provisioning / "dashboards/newsstream.yml").read_text())["providers"]
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    (datasource,) = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())["datasources"]
    assert datasource["type"] == "prometheus" and datasource["isDefault"] is True
    assert datasource["url"] == "http://prometheus:9090" and "prometheus" in compose["services"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(provider["options"]["path"] + "/")
    assert (ROOT / "deploy/grafana/dashboards" / PurePosixPath(home).name).is_file()
