"""`manage.py fetch_models` against a local HTTP server: never the internet."""

import hashlib
import http.server
import threading
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from workers.models_fetch import download_file


class _Server:
    """Serves files from a directory on 127.0.0.1, counting requests per path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        self.truncate: set[str] = set()  # paths answered with fewer bytes than announced
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                file = server.root / self.path.lstrip("/")
                if not file.is_file():
                    self.send_error(404)
                    return
                body = file.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in server.truncate:
                    body = body[: len(body) // 2]
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "served"
    (root / "tts" / "ru").mkdir(parents=True)
    (root / "tts" / "en").mkdir(parents=True)
    (root / "tts" / "ru" / "v5_ru.pt").write_bytes(b"ru-package" * 5000)
    (root / "tts" / "en" / "v3_en.pt").write_bytes(b"en-package" * 7000)
    served = _Server(root)
    yield served
    served.close()


@pytest.fixture
def silero_settings(settings, server, tmp_path):
    settings.SILERO_BASE_URL = server.url + "/tts"
    settings.SILERO_CACHE_DIR = tmp_path / "cache" / "silero"
    return settings


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fetches_silero_packages_once(silero_settings, server, capsys):
    call_command("fetch_models", "--only", "silero", "--no-progress")
    cache = Path(silero_settings.SILERO_CACHE_DIR)
    for lang, name in (("ru", "v5_ru.pt"), ("en", "v3_en.pt")):
        assert digest(cache / name) == digest(server.root / "tts" / lang / name)
    assert sorted(server.requests) == ["/tts/en/v3_en.pt", "/tts/ru/v5_ru.pt"]
    assert sorted(p.name for p in cache.iterdir()) == ["v3_en.pt", "v5_ru.pt"]

    call_command("fetch_models", "--only", "silero", "--no-progress")
    assert len(server.requests) == 2  # already present: skipped
    assert "already present" in capsys.readouterr().out


def test_languages_option(silero_settings, server):
    call_command("fetch_models", "--only", "silero", "--languages", "en", "--no-progress")
    assert server.requests == ["/tts/en/v3_en.pt"]
    with pytest.raises(CommandError, match="unknown language"):
        call_command("fetch_models", "--only", "silero", "--languages", "de")


def test_interrupted_download_leaves_nothing_behind(silero_settings, server):
    server.truncate.add("/tts/ru/v5_ru.pt")
    with pytest.raises(CommandError, match="download failed"):
        call_command("fetch_models", "--only", "silero", "--languages", "ru", "--no-progress")
    cache = Path(silero_settings.SILERO_CACHE_DIR)
    assert list(cache.iterdir()) == []  # no partial file, no .part left over


def test_missing_remote_file_is_an_error(server, tmp_path):
    with pytest.raises(OSError):
        download_file(server.url + "/nothing.pt", tmp_path / "nothing.pt", progress=False)
    assert not (tmp_path / "nothing.pt").exists()


def test_local_nemo_paths_need_no_download(settings, tmp_path, capsys):
    pytest.importorskip("nemo.collections.asr")
    settings.CANARY_MODEL = str(tmp_path / "canary.nemo")
    settings.LID_MODEL = str(tmp_path / "lid.nemo")
    call_command("fetch_models", "--only", "canary", "--only", "lid", "--no-progress")
    assert capsys.readouterr().out.count("nothing to download") == 2


@pytest.mark.models
def test_downloaded_models_load_offline(settings, server, tmp_path, monkeypatch):
    """Silero and the NGC language-ID model, fetched from the local server, then loaded by
    the production engines with downloads off."""
    from tests.models_fixtures import build_tiny_ambernet, build_tiny_silero
    from workers.engines import langid, nemo_loading
    from workers.engines.silero import SileroSynthesizer

    build_tiny_silero(server.root / "tts" / "ru", "ru")
    build_tiny_ambernet(server.root / "ngc")
    monkeypatch.setattr(
        nemo_loading, "ngc_download_url", lambda cls, name: server.url + "/ngc/tiny-ambernet.nemo"
    )
    monkeypatch.setenv("NEMO_CACHE_DIR", str(tmp_path / "nemo"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(langid, "_loaded", {})
    settings.SILERO_BASE_URL = server.url + "/tts"
    settings.SILERO_CACHE_DIR = tmp_path / "silero"
    settings.LID_MODEL = "langid_ambernet"

    call_command("fetch_models", "--only", "lid", "--only", "silero", "--languages", "ru")

    speech = SileroSynthesizer(settings.SILERO_CACHE_DIR).synthesize("Привет.", lang="ru")
    assert len(speech.audio) > 0
    identifier = langid.AmberNetIdentifier.load("langid_ambernet", device="cpu")
    assert type(identifier.model).__name__ == "EncDecSpeakerLabelModel"


@pytest.mark.models
def test_canary_download_offline_fails_with_a_clear_error(settings, tmp_path, monkeypatch):
    pytest.importorskip("nemo.collections.asr")
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    settings.CANARY_MODEL = "nvidia/canary-1b-v2"
    with pytest.raises(CommandError, match="download failed: OfflineModeIsEnabled"):
        call_command("fetch_models", "--only", "canary", "--no-progress")


DENIS = "piper:ru_RU-denis-medium"


@pytest.fixture
def piper_server(server, settings, tmp_path, monkeypatch):
    """rhasspy/piper-voices' layout on the local server (tiny voices under their real paths),
    with the tiny models' size and MD5 standing in for the published ones."""
    from tests.models_fixtures import build_tiny_piper_voice
    from workers.engines import piper
    from workers.models_fetch import file_md5

    for voice in (DENIS, "piper:en_US-lessac-medium"):
        files = piper.PIPER_VOICE_FILES[voice.removeprefix("piper:")]
        folder = server.root / "piper" / files.repo_dir
        model = build_tiny_piper_voice(folder, files.key)
        (folder / f"{files.key}.MODEL_CARD").rename(folder / "MODEL_CARD")
        monkeypatch.setitem(
            piper.PIPER_VOICE_FILES,
            files.key,
            piper.PiperVoiceFiles(files.key, model.stat().st_size, file_md5(model)),
        )
    settings.PIPER_BASE_URL = server.url + "/piper"
    settings.PIPER_VOICES_DIR = tmp_path / "cache" / "piper"
    settings.TTS_VOICE_RU = DENIS
    return server


def test_fetches_the_chosen_piper_voices_with_their_model_cards(settings, piper_server, capsys):
    """The chosen voice's three files from rhasspy/piper-voices' paths, once; then the
    production engine speaks with it offline."""
    from workers.engines.piper import PiperSynthesizer

    call_command("fetch_models", "--only", "piper", "--no-progress")
    folder = "/piper/ru/ru_RU/denis/medium/"
    assert sorted(piper_server.requests) == sorted(
        folder + name
        for name in ("ru_RU-denis-medium.onnx", "ru_RU-denis-medium.onnx.json", "MODEL_CARD")
    )
    cache = Path(settings.PIPER_VOICES_DIR)
    assert sorted(p.name for p in cache.iterdir()) == [
        "ru_RU-denis-medium.MODEL_CARD",
        "ru_RU-denis-medium.onnx",
        "ru_RU-denis-medium.onnx.json",
    ]
    call_command("fetch_models", "--only", "piper", "--no-progress")
    assert len(piper_server.requests) == 3  # already present: skipped
    assert "already present" in capsys.readouterr().out

    speech = PiperSynthesizer(cache).synthesize("Привет.", lang="ru", voice=DENIS)
    assert speech.sample_rate == 24000 and len(speech.audio) > 0


def test_piper_voices_option(settings, piper_server):
    call_command(
        "fetch_models", "--only", "piper", "--piper-voices", "en_US-lessac-medium", "--no-progress"
    )
    assert {path.rsplit("/", 1)[0] for path in piper_server.requests} == {
        "/piper/en/en_US/lessac/medium"
    }
    with pytest.raises(CommandError, match="unknown Piper voice"):
        call_command("fetch_models", "--only", "piper", "--piper-voices", "ru_RU-nobody-low")


def test_no_chosen_piper_voice_fetches_nothing(settings, piper_server, capsys):
    settings.TTS_VOICE_RU = "baya"
    call_command("fetch_models", "--only", "piper", "--no-progress")
    assert piper_server.requests == []
    assert "no Piper voice chosen" in capsys.readouterr().out


def test_a_piper_model_that_is_not_the_published_file_is_deleted(settings, piper_server):
    (piper_server.root / "piper/ru/ru_RU/denis/medium/ru_RU-denis-medium.onnx").write_bytes(
        b"tampered"
    )
    with pytest.raises(CommandError, match="has 8 bytes, the published ru_RU-denis-medium.onnx"):
        call_command("fetch_models", "--only", "piper", "--no-progress")
    assert not (Path(settings.PIPER_VOICES_DIR) / "ru_RU-denis-medium.onnx").exists()
