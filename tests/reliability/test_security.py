"""Security: deployment settings, logins, WebSocket origins, stored file names.

Covered elsewhere, not repeated here:
- production (DATABASE_URL/REDIS_URL set) refuses to start without SECRET_KEY:
  tests/rutrans_site/test_settings.py;
- upload size (413) and duration (400) limits: tests/translation/api/test_api.py
  (test_too_large_is_413, test_too_long_is_400), and on a real Daphne in test_api_e2e.py;
- Flower requires basic auth, every published port is bound to 127.0.0.1:
  tests/deploy/test_compose.py (test_flower_requires_basic_auth_and_checks_health,
  test_every_published_port_is_bound_to_loopback, test_missing_secret_is_refused).
"""

from __future__ import annotations

import io
import os
import re
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import soundfile as sf
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.speech import speech_like
from translation.protocol.control import parse_control

ROOT = Path(__file__).resolve().parents[2]
FOREIGN = (b"origin", b"http://evil.example")
OWN = (b"origin", b"http://127.0.0.1")


def production_env(tmp_path, **extra: str) -> dict[str, str]:
    """Settings as docs/RUNBOOK.md recommends behind a TLS proxy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "DJANGO_SETTINGS"))}
    env.update(
        DJANGO_SETTINGS_MODULE="rutrans_site.settings",
        RUTRANS_DATA_DIR=str(tmp_path),
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="0",
        DATABASE_URL="postgresql://127.0.0.1:5432/test",
        REDIS_URL="redis://127.0.0.1:6379/10",
        ALLOWED_HOSTS="translator.example",
        CSRF_TRUSTED_ORIGINS="https://translator.example",
        BEHIND_TLS_PROXY="1",
        SECURE_SSL_REDIRECT="1",
        SECURE_COOKIES="1",
        SECURE_HSTS_SECONDS="31536000",
    )
    env.update(extra)
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    proc = check_deploy(production_env(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues" in proc.stdout
    assert "WARNING" not in proc.stdout + proc.stderr


def test_check_deploy_flags_a_production_run_without_tls_settings(tmp_path):
    """The defaults stay right for the local http://127.0.0.1 run, and are flagged for a
    deployment that forgot the TLS settings."""
    env = production_env(tmp_path)
    for name in ("SECURE_SSL_REDIRECT", "SECURE_COOKIES", "SECURE_HSTS_SECONDS"):
        env.pop(name)
    proc = check_deploy(env)
    assert proc.returncode != 0
    for code in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert code in proc.stdout + proc.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/", "/admin/translation/translation/"])
def test_admin_needs_a_staff_login(client, django_user_model, path):
    response = client.get(path)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    user = django_user_model.objects.create_user("visitor", password="pw-visitor-123")
    client.force_login(user)
    assert client.get(path).status_code == 302  # logged in, but not staff
    user.is_staff = user.is_superuser = True
    user.save()
    assert client.get(path).status_code == 200


@pytest.mark.django_db
def test_history_list_needs_a_staff_login(client, django_user_model):
    assert client.get("/api/translations").status_code == 403
    user = django_user_model.objects.create_user("visitor", password="pw-visitor-123")
    client.force_login(user)
    assert client.get("/api/translations").status_code == 403
    user.is_staff = True
    user.save()
    assert client.get("/api/translations").status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/ws/translate", f"/ws/jobs/{uuid.uuid4()}"])
async def test_websockets_refuse_a_foreign_origin(path):
    from rutrans_site.asgi import application

    foreign = WebsocketCommunicator(application, path, headers=[FOREIGN])
    connected, _ = await foreign.connect()
    assert not connected
    no_origin = WebsocketCommunicator(application, path, headers=[])
    connected, _ = await no_origin.connect()
    assert not connected
    own = WebsocketCommunicator(application, path, headers=[OWN])
    connected, _ = await own.connect()
    assert connected
    await own.disconnect()


def wav_bytes(seconds: float = 0.5) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, speech_like(seconds), 16_000, format="WAV")  # uploads need speech
    return buf.getvalue()


HOSTILE_NAMES = ["../../etc/passwd.wav", "..\\x.wav", "/etc/cron.d/x.wav", "..", "a\x00b.wav"]


def assert_generated_and_inside(row, media_root: Path) -> None:
    stored = row.meta["upload"]["stored_as"]
    assert re.fullmatch(rf"uploads/{row.id}/original(\.wav)?", stored), stored
    assert row.input_audio.name == f"inputs/{row.id}.wav"
    root = media_root.resolve()
    for name in (stored, row.input_audio.name):
        path = (media_root / name).resolve()
        assert path.is_relative_to(root) and path.is_file(), path


@pytest.mark.django_db
@pytest.mark.parametrize("filename", HOSTILE_NAMES)
def test_stored_names_never_come_from_the_client(filename, settings, tmp_path, monkeypatch):
    """The service itself, given the hostile name as is."""
    from translation.jobs import submit

    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(submit, "enqueue_translation", lambda _id: None)
    row = submit.submit_upload(
        data=wav_bytes(), filename=filename, config=parse_control({"mode": "en->ru"})
    )
    assert_generated_and_inside(row, settings.MEDIA_ROOT)
    assert "/" not in row.meta["upload"]["filename"] and ".." != row.meta["upload"]["filename"]
    stored = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    assert all(str(p).startswith("media/") for p in stored), stored


@pytest.mark.django_db
@pytest.mark.parametrize("filename", ["../../etc/passwd.wav", "..\\x.wav"])
def test_uploaded_hostile_names_are_stored_under_generated_names(
    client, filename, settings, tmp_path, monkeypatch
):
    """Through the API (multipart), as a client would send them."""
    from translation.jobs import submit
    from translation.models import Translation

    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(submit, "enqueue_translation", lambda _id: None)
    upload = SimpleUploadedFile(filename, wav_bytes(), content_type="audio/wav")
    upload.name = filename  # keep the raw name (SimpleUploadedFile would not clean it anyway)
    response = client.post("/api/translations", {"audio": upload, "mode": "en->ru"})
    assert response.status_code == 202, response.content
    row = Translation.objects.get(pk=response.json()["id"])
    assert_generated_and_inside(row, settings.MEDIA_ROOT)
    assert not (Path("/etc") / "passwd.wav").exists()
