"""The scaled-out web tier on one machine, without Docker: N Daphne processes behind HAProxy
(the compose file's proxy config, docker/haproxy/haproxy.cfg) and Celery workers, on the real
services (REDIS_URL, DATABASE_URL). `make run-scaled` runs it:

    python -m rutrans_site.scaled --replicas 2 --workers 1 [--host 127.0.0.1 --port 8000]

The proxy listens on --port; the web processes on the ports after it. SIGTERM or Ctrl-C drains
the web processes (1012 to their sessions) and stops everything. `SIGHUP` restarts the web
processes one by one, each drained first: a deploy with calls open.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROXY_CONFIG = ROOT / "docker" / "haproxy" / "haproxy.cfg"
PROXY_RISE_S = 3.0
"""How long the proxy takes to put a healthy process back (`inter 1s rise 2`, and a margin)."""
_BLOCK = r"(?ms)^[ \t]*# >>> {name}.*?^[ \t]*# <<< {name}[^\n]*\n"


def local_proxy_config(web_ports: list[int], *, host: str = "127.0.0.1") -> str:
    """docker/haproxy/haproxy.cfg with Docker's DNS discovery replaced by these processes."""
    text = PROXY_CONFIG.read_text()
    servers = "".join(
        f"    server web{i} {host}:{port} check\n" for i, port in enumerate(web_ports)
    )
    text, found = re.subn(_BLOCK.format(name="servers"), lambda _: servers, text)
    if found != 1:
        raise ValueError(f"{PROXY_CONFIG} has no `# >>> servers` block")
    return re.sub(_BLOCK.format(name="resolvers"), "", text)


def web_command(port: int, host: str = "127.0.0.1") -> list[str]:
    return [sys.executable, "-m", "rutrans_site.server", "-b", host, "-p", str(port)]


def proxy_command(config_path: Path) -> list[str]:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        raise SystemExit("haproxy is not installed (Debian: apt-get install haproxy)")
    return [haproxy, "-db", "-f", str(config_path)]


def worker_command(node: str) -> list[str]:
    """A Celery worker as `make worker` runs it, with its node name (`name@%h`)."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "rutrans_site",
        "worker",
        "-Q",
        "gpu,captions",
        "--pool",
        "threads",
        "-n",
        node,
        "--loglevel",
        "INFO",
    ]


def wait_healthy(url: str, proc: subprocess.Popen, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: the process exited with {proc.returncode} while starting")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer 200 in {timeout_s:.0f} s")


def create_database_if_missing(database_url: str) -> None:
    """A fresh machine has PostgreSQL but not rutrans's database: create it (once)."""
    import psycopg
    from psycopg import sql

    url = database_url.replace("postgres://", "postgresql://", 1)
    name = str(psycopg.conninfo.conninfo_to_dict(url).get("dbname") or "rutrans")
    admin_url = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        print(f"rutrans: created the PostgreSQL database {name}", flush=True)


def local_secret_key() -> str:
    """The real stack needs a fixed SECRET_KEY shared by every process: one kept in var/."""
    key_file = ROOT / "var" / "scaled_secret_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


class ScaledStack:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        # Behind the proxy a client's address is the last X-Forwarded-For hop (its limits).
        self.env = {"TRUSTED_PROXY_COUNT": "1"} | dict(os.environ)
        self.web: dict[int, subprocess.Popen] = {}
        self.others: list[subprocess.Popen] = []
        self.restart_requested = False

    def web_ports(self) -> list[int]:
        return [self.args.port + 1 + i for i in range(self.args.replicas)]

    def start_web(self, port: int) -> None:
        proc = subprocess.Popen(web_command(port), cwd=ROOT, env=self.env)
        self.web[port] = proc
        wait_healthy(f"http://127.0.0.1:{port}/healthz", proc)

    def drain_web(self, port: int) -> None:
        proc = self.web.pop(port)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()

    def rolling_restart(self) -> None:
        """Each web process drained and started again in turn: the others take its sessions."""
        for port in self.web_ports():
            print(f"rutrans: restarting the web process on :{port}", flush=True)
            self.drain_web(port)
            self.start_web(port)
            time.sleep(PROXY_RISE_S)  # back in the proxy's rotation before the next goes down

    def run(self) -> int:
        create_database_if_missing(self.env["DATABASE_URL"])
        self.env.setdefault("SECRET_KEY", local_secret_key())
        migrate = [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"]
        subprocess.run(migrate, cwd=ROOT, env=self.env, check=True)
        for port in self.web_ports():
            self.start_web(port)
        config = Path(tempfile.mkdtemp(prefix="rutrans-proxy-")) / "haproxy.cfg"
        config.write_text(local_proxy_config(self.web_ports()))
        proxy_env = self.env | {"PROXY_ADDRESS": self.args.host, "PROXY_PORT": str(self.args.port)}
        self.others.append(subprocess.Popen(proxy_command(config), env=proxy_env))
        for i in range(self.args.workers):
            command = worker_command(f"worker{i + 1}@%h")
            self.others.append(subprocess.Popen(command, cwd=ROOT, env=self.env))
        print(
            f"rutrans: {self.args.replicas} web processes behind http://{self.args.host}:"
            f"{self.args.port}/ (HAProxy), {self.args.workers} worker(s); Ctrl-C stops",
            flush=True,
        )
        signal.signal(signal.SIGHUP, lambda *_: setattr(self, "restart_requested", True))
        try:
            while all(p.poll() is None for p in [*self.web.values(), *self.others]):
                if self.restart_requested:
                    self.restart_requested = False
                    self.rolling_restart()
                time.sleep(0.5)
            return 1
        except KeyboardInterrupt:
            return 0
        finally:
            self.stop()

    def stop(self) -> None:
        for proc in [*self.web.values(), *self.others]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.web.values(), *self.others]:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=max(2, (os.cpu_count() or 2) // 2))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    if not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")):
        raise SystemExit(
            "several web processes share Redis (channel layer, broker) and PostgreSQL: set "
            "REDIS_URL and DATABASE_URL (`make run-scaled` sets the local ones)"
        )
    signal.signal(signal.SIGTERM, _stop_like_ctrl_c)
    return ScaledStack(args).run()


def _stop_like_ctrl_c(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    raise SystemExit(main())
