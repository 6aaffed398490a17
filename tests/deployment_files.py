"""What the deployment tests share: where the files are, and the rules every deployment file follows."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
KUBERNETES_DIR = ROOT / "deploy" / "k8s"
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
GRAFANA_DIR = ROOT / "deploy" / "grafana"

# Every variable newsstream reads: one per Settings field (pydantic-settings ignores any other, silently).
SETTINGS_VARIABLES = frozenset(f"{Settings.model_config['env_prefix']}{name.upper()}" for name in Settings.model_fields)

# A tag that names a release: a version with at least major.minor.patch, or a digest.
_PINNED = re.compile(r"^[^@\s]+:(v?\d+\.\d+\.\d+[\w.\-]*)$|^[^@\s]+@sha256:[0-9a-f]{64}$")


def project_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def unpinned_reason(image: str) -> str | None:
    """None if the image reference names one release, else why not."""
    if ":" not in image.rsplit("/", 1)[-1] and "@" not in image:
        return f"{image}: no tag"
    if image.endswith(":latest"):
        return f"{image}: latest"
    if not _PINNED.match(image):
        return f"{image}: the tag is not a full version (major.minor.patch) or a digest"
    return None


def settings_from_variables(variables: dict[str, str]) -> Settings:
    """The Settings a process gets from these variables alone (no .env file, nothing else from the environment)."""
    prefix = Settings.model_config["env_prefix"]
    return Settings(_env_file=None, **{name.removeprefix(prefix).lower(): value for name, value in variables.items()})


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document is not None]
