"""deploy/k8s: the built-in kinds validate against Kubernetes' schemas; everything references what actually exists.

Schemas: kubernetes-validate ships Kubernetes' OpenAPI schemas as JSON Schema, so nothing is downloaded. No PyPI
package ships KEDA's CRD schemas: the ScaledObject and TriggerAuthentication validate against the schemas of KEDA's
own CRDs, copied into tests/data/keda (see its PROVENANCE.md), and are checked by their references.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from streams.settings import Settings
from tests.deployment_files import (
    DOCKERFILE,
    KUBERNETES_DIR,
    PROMETHEUS_DIR,
    SETTINGS_VARIABLES,
    load_yaml_documents,
    project_version,
    settings_from_variables,
    unpinned_reason,
)

# The oldest Kubernetes minor release still in upstream support when this was written; newer ones accept these too.
KUBERNETES_VERSION = "1.32"
KEDA_API = "keda.sh/v1alpha1"
KEDA_SCHEMAS = Path(__file__).parent / "data" / "keda"
KEDA_SASL_MODES = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}
# Stand-ins for the Secret newsstream-kafka-sasl, which the user creates.
SASL_SECRET_VALUE = {"username": "newsstream", "password": "from-the-secret"}
SASL_SECRET_VALUE_VARIABLES = {
    "NEWSSTREAM_SASL_USERNAME": SASL_SECRET_VALUE["username"],
    "NEWSSTREAM_SASL_PASSWORD": SASL_SECRET_VALUE["password"],
}


@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict[str, Any]]:
    """Every object in deploy/k8s by (kind, name)."""
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(KUBERNETES_DIR.glob("*.yaml")):
        for document in load_yaml_documents(path):
            key = (document["kind"], document["metadata"]["name"])
            assert key not in objects, f"{key} defined twice"
            objects[key] = document
    return objects


def pod_specs(manifests: dict[tuple[str, str], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: document["spec"]["template"]["spec"]
        for (kind, name), document in manifests.items()
        if kind in {"Deployment", "Job"}
    }


def container_settings(container: dict[str, Any], config_map: dict[str, str]) -> Settings:
    """The Settings a container gets: its ConfigMap, then its own env, secrets filled in with stand-in values."""
    variables = dict(config_map)
    for variable in container.get("env", []):
        if "value" in variable:
            variables[variable["name"]] = variable["value"]
        else:
            variables[variable["name"]] = SASL_SECRET_VALUE[variable["valueFrom"]["secretKeyRef"]["key"]]
    return settings_from_variables(variables)


def test_manifests_hold_the_expected_objects(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    assert set(manifests) == {
        ("ConfigMap", "newsstream"),
        ("Deployment", "newsstream-worker"),
        ("Job", "newsstream-topics"),
        ("Service", "newsstream-metrics"),
        ("PodDisruptionBudget", "newsstream-worker"),
        ("TriggerAuthentication", "newsstream-kafka"),
        ("ScaledObject", "newsstream-worker"),
    }
    assert {document["metadata"]["namespace"] for document in manifests.values()} == {"newsstream"}


def test_built_in_kinds_are_valid_against_the_kubernetes_schemas(
    manifests: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """Strict: an unknown or misspelt field fails, as `kubectl apply --validate=strict` would."""
    built_in = {key: document for key, document in manifests.items() if document["apiVersion"] != KEDA_API}
    assert len(built_in) == 5
    for document in built_in.values():
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_a_misspelt_field_fails_validation(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    broken = yaml.safe_load(yaml.safe_dump(manifests[("Deployment", "newsstream-worker")]))
    broken["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {"periodSeconds": 20}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_images_are_pinned_to_the_project_version(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    images = [container["image"] for spec in pod_specs(manifests).values() for container in spec["containers"]]
    assert len(images) == 2
    assert [reason for image in images if (reason := unpinned_reason(image))] == []
    assert {image.rsplit(":", 1)[1] for image in images} == {project_version()}


def test_containers_are_configured_only_by_settings_fields(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    config_map = manifests[("ConfigMap", "newsstream")]["data"]
    assert set(config_map) <= SETTINGS_VARIABLES, set(config_map) - SETTINGS_VARIABLES
    for name, spec in pod_specs(manifests).items():
        (container,) = spec["containers"]
        assert [source["configMapRef"]["name"] for source in container["envFrom"]] == ["newsstream"], name
        names = {variable["name"] for variable in container["env"]}
        assert names <= SETTINGS_VARIABLES, f"{name}: {names - SETTINGS_VARIABLES}"
        settings = container_settings(container, config_map)  # SASL_SSL needs the login: the secrets supply it
        assert settings.security_protocol == "SASL_SSL" and settings.sasl_username == "newsstream", name


def test_secrets_are_referenced_never_inlined(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    assert not [key for key in manifests if key[0] == "Secret"]
    config_map = manifests[("ConfigMap", "newsstream")]["data"]
    assert not {"NEWSSTREAM_SASL_PASSWORD", "NEWSSTREAM_SSL_KEY_PASSWORD"} & set(config_map)
    for spec in pod_specs(manifests).values():
        (container,) = spec["containers"]
        secret_variables = {
            variable["name"]: variable["valueFrom"]["secretKeyRef"] for variable in container["env"]
        }
        assert secret_variables["NEWSSTREAM_SASL_PASSWORD"] == {"name": "newsstream-kafka-sasl", "key": "password"}


def test_the_ca_file_setting_points_into_the_mounted_ca_secret(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    ca_file = PurePosixPath(manifests[("ConfigMap", "newsstream")]["data"]["NEWSSTREAM_SSL_CAFILE"])
    for name, spec in pod_specs(manifests).items():
        volumes = {volume["name"]: volume for volume in spec["volumes"]}
        (container,) = spec["containers"]
        (mount,) = [mount for mount in container["volumeMounts"] if PurePosixPath(mount["mountPath"]) == ca_file.parent]
        assert volumes[mount["name"]]["secret"]["secretName"] == "newsstream-kafka-ca", name
        assert ca_file.name == "ca.crt"


def test_worker_pods_run_unprivileged_with_writable_data_and_tmp(
    manifests: dict[tuple[str, str], dict[str, Any]],
) -> None:
    spec = pod_specs(manifests)["newsstream-worker"]
    (container,) = spec["containers"]
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    mounted = {mount["mountPath"] for mount in container["volumeMounts"]}
    data_dir = DockerfileParser(path=str(DOCKERFILE)).envs["NEWSSTREAM_DATA_DIR"]  # the image's default
    assert "NEWSSTREAM_DATA_DIR" not in manifests[("ConfigMap", "newsstream")]["data"]
    assert {"/tmp", data_dir} <= mounted


def test_metrics_port_probes_service_and_scrape_job_agree(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    settings = settings_from_variables(manifests[("ConfigMap", "newsstream")]["data"] | SASL_SECRET_VALUE_VARIABLES)
    deployment = manifests[("Deployment", "newsstream-worker")]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert settings.metrics_bind == "0.0.0.0" and ports["metrics"] == settings.metrics_port
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}, probe

    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    service = manifests[("Service", "newsstream-metrics")]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [{"name": "metrics", "port": settings.metrics_port, "targetPort": "metrics"}]
    budget = manifests[("PodDisruptionBudget", "newsstream-worker")]
    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()

    scrape = yaml.safe_load((PROMETHEUS_DIR / "kubernetes-scrape.yml").read_text())
    (job,) = scrape["scrape_configs"]
    (keep,) = [rule for rule in job["relabel_configs"] if rule.get("action") == "keep"]
    assert keep["regex"] == f"{service['metadata']['name']};metrics"
    assert job["kubernetes_sd_configs"][0]["namespaces"]["names"] == [service["metadata"]["namespace"]]


def strict(schema: Any) -> Any:
    """A CRD schema as kubectl's default strict field validation applies it: unknown fields are errors, except
    where the schema preserves them."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict_schema = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        strict_schema["additionalProperties"] = False
    return strict_schema


@pytest.mark.parametrize("kind", ["ScaledObject", "TriggerAuthentication"])
def test_keda_objects_validate_against_the_keda_crd_schemas(
    kind: str, manifests: dict[tuple[str, str], dict[str, Any]]
) -> None:
    validator = jsonschema.Draft7Validator(strict(json.loads((KEDA_SCHEMAS / f"{kind}.v1alpha1.json").read_text())))
    (document,) = [document for (found, _), document in manifests.items() if found == kind]
    validator.validate(document)
    # Strict enough to catch a typo in a field name.
    misspelt = {**document, "spec": {**document["spec"], "minReplicaCounts": 2}}
    assert any("minReplicaCounts" in error.message for error in validator.iter_errors(misspelt))


def test_keda_scales_the_worker_deployment_on_the_raw_topic_lag_of_its_group(
    manifests: dict[tuple[str, str], dict[str, Any]],
) -> None:
    settings = settings_from_variables(manifests[("ConfigMap", "newsstream")]["data"] | SASL_SECRET_VALUE_VARIABLES)
    scaled = manifests[("ScaledObject", "newsstream-worker")]
    assert scaled["apiVersion"] == KEDA_API
    spec = scaled["spec"]
    assert ("Deployment", spec["scaleTargetRef"]["name"]) in manifests
    assert "replicas" not in manifests[("Deployment", "newsstream-worker")]["spec"], "KEDA owns the replica count"
    # More workers than raw partitions would sit idle; two keep the raw partitions served while one restarts.
    assert 2 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= settings.partitions

    (trigger,) = spec["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    assert metadata["bootstrapServers"] == settings.broker
    assert metadata["consumerGroup"] == settings.app_id
    assert metadata["topic"] == settings.topic_raw
    assert int(metadata["lagThreshold"]) > 0
    assert metadata["sasl"] == KEDA_SASL_MODES[settings.sasl_mechanism]
    assert metadata["tls"] == ("enable" if settings.security_protocol.endswith("SSL") else "disable")
    assert all(isinstance(value, str) for value in metadata.values()), "KEDA trigger metadata values are strings"


def test_keda_logs_in_with_the_workers_secrets(manifests: dict[tuple[str, str], dict[str, Any]]) -> None:
    trigger = manifests[("ScaledObject", "newsstream-worker")]["spec"]["triggers"][0]
    authentication = manifests[("TriggerAuthentication", trigger["authenticationRef"]["name"])]
    references = {ref["parameter"]: (ref["name"], ref["key"]) for ref in authentication["spec"]["secretTargetRef"]}
    assert references == {
        "username": ("newsstream-kafka-sasl", "username"),
        "password": ("newsstream-kafka-sasl", "password"),
        "ca": ("newsstream-kafka-ca", "ca.crt"),
    }
    worker = pod_specs(manifests)["newsstream-worker"]
    (container,) = worker["containers"]
    used_by_worker = {
        (variable["valueFrom"]["secretKeyRef"]["name"], variable["valueFrom"]["secretKeyRef"]["key"])
        for variable in container["env"]
    } | {(volume["secret"]["secretName"], "ca.crt") for volume in worker["volumes"] if "secret" in volume}
    assert set(references.values()) == used_by_worker
