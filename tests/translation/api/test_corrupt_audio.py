"""A corpus of broken uploads: each is answered with a 400 that names the problem, and nothing
is stored or handed to a worker."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile as sf
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.speech import speech_like
from translation.models import Translation

URL = "/api/translations"
SR = 16_000
SPEECH = speech_like(1.0, SR)  # an upload is refused without speech
PCM = (SPEECH * 32767).astype("<i2").tobytes()


def riff_wav(
    *,
    rate: int = SR,
    channels: int = 1,
    bits: int = 16,
    format_tag: int = 1,
    fmt_size: int = 16,
    data: bytes = PCM,
    data_size: int | None = None,
    riff_size: int | None = None,
) -> bytes:
    """A WAV written field by field, so each field can be wrong."""
    block = (channels * bits // 8) & 0xFFFF
    fmt = struct.pack(
        "<HHIIHH", format_tag, channels, rate, (rate * block) & 0xFFFFFFFF, block, bits
    )
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", fmt_size)
        + fmt
        + b"data"
        + struct.pack("<I", len(data) if data_size is None else data_size)
        + data
    )
    return b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body


def encoded(audio: np.ndarray, **kwargs) -> bytes:
    out = io.BytesIO()
    sf.write(out, audio, SR, **kwargs)
    return out.getvalue()


GOOD_WAV = riff_wav()
NAN_AUDIO = SPEECH.copy()
NAN_AUDIO[100:110] = np.nan
INF_AUDIO = SPEECH.copy()
INF_AUDIO[5] = np.inf

CORPUS: dict[str, tuple[bytes, str, str]] = {
    # name: (bytes, file name, what the message must say)
    "truncated-header": (GOOD_WAV[:30], "a.wav", "could not read"),
    "header-without-samples": (GOOD_WAV[:44], "a.wav", "no samples"),
    "data-chunk-size-zero": (riff_wav(data_size=0), "a.wav", "no samples"),
    "fmt-chunk-too-short": (riff_wav(fmt_size=4), "a.wav", "fmt"),
    "fmt-chunk-size-huge": (riff_wav(fmt_size=0xFFFFFF00), "a.wav", "fmt"),
    "unknown-format-tag": (riff_wav(format_tag=0x1234), "a.wav", "fmt"),
    "zero-bits-per-sample": (riff_wav(bits=0), "a.wav", "unimplemented format"),
    "zero-sample-rate": (riff_wav(rate=0), "a.wav", "could not read"),
    "sample-rate-1-hz": (riff_wav(rate=1), "a.wav", "unsupported sample rate 1 hz"),
    "sample-rate-10-mhz": (riff_wav(rate=10_000_000), "a.wav", "unsupported sample rate"),
    "zero-channels": (riff_wav(channels=0), "a.wav", "channel count is zero"),
    "absurd-channel-count": (riff_wav(channels=1000, data=bytes(8000)), "a.wav", "1000"),
    "65535-channels": (riff_wav(channels=65535, data=bytes(4 * 65535)), "a.wav", "channels"),
    "nan-samples": (encoded(NAN_AUDIO, format="WAV", subtype="FLOAT"), "a.wav", "nan"),
    "infinite-samples": (encoded(INF_AUDIO, format="WAV", subtype="DOUBLE"), "a.wav", "infin"),
    "nan-samples-flac-container": (
        encoded(NAN_AUDIO, format="WAV", subtype="FLOAT"),
        "a.flac",
        "nan",
    ),
    "random-bytes": (np.random.default_rng(7).bytes(10_000), "a.wav", "could not read"),
    "html-named-wav": (
        b"<!DOCTYPE html><html><head><title>404</title></head><body>Not found</body></html>",
        "a.wav",
        "not a recognised audio format",
    ),
    "json-named-ogg": (b'{"audio": "no"}', "a.ogg", "could not read"),
    "truncated-flac": (encoded(SPEECH, format="FLAC")[:60], "a.flac", "could not read"),
    "truncated-ogg-vorbis": (
        encoded(SPEECH, format="OGG", subtype="VORBIS")[:100],
        "a.ogg",
        "could not read",
    ),
    "riff-magic-only": (b"RIFF\x00\x00\x00\x00WAVE", "a.wav", "could not read"),
    "single-zero-byte": (b"\x00", "a.wav", "could not read"),
    "empty": (b"", "a.wav", "empty"),
}


def stored_files() -> list[str]:
    root = settings.MEDIA_ROOT
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(CORPUS))
def test_corrupt_upload_is_400_and_nothing_is_queued(
    client, dispatched, django_capture_on_commit_callbacks, name
):
    data, filename, says = CORPUS[name]
    before = stored_files() if settings.MEDIA_ROOT.exists() else []
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(URL, {"audio": SimpleUploadedFile(filename, data), "mode": "en->ru"})
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "invalid_audio"
    assert says in error["message"].lower(), error["message"]
    assert list(error["fields"]) == ["audio"]
    assert callbacks == [] and dispatched == []
    assert not Translation.objects.exists()
    assert (stored_files() if settings.MEDIA_ROOT.exists() else []) == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [riff_wav(data_size=0xFFFFFFF0), riff_wav(riff_size=12), riff_wav(riff_size=0xFFFFFFFF)],
    ids=["data-size-overstated", "riff-size-understated", "riff-size-streaming"],
)
def test_recoverable_size_fields_are_read_like_players_do(
    client, dispatched, django_capture_on_commit_callbacks, data
):
    """Streaming writers leave placeholder sizes; the samples that are there are used."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, {"audio": SimpleUploadedFile("s.wav", data)})
    assert response.status_code == 202
    row = Translation.objects.get(pk=response.json()["id"])
    assert row.duration_s == pytest.approx(1.0)
    assert dispatched == [str(row.id)]


def white_noise(seconds: float) -> np.ndarray:
    return (0.3 * np.random.default_rng(11).standard_normal(int(seconds * SR))).astype(np.float32)


WITHOUT_SPEECH: dict[str, bytes] = {
    "10-s-digital-silence": encoded(np.zeros(10 * SR, np.float32), format="WAV", subtype="PCM_16"),
    "10-s-white-noise": encoded(white_noise(10), format="WAV", subtype="PCM_16"),
    "5-ms-clip": encoded(SPEECH[: SR * 5 // 1000], format="WAV", subtype="PCM_16"),
    # The header claims 2^31 bytes of samples; the file holds 5 ms of them.
    "header-claims-2-gib-holds-5-ms": riff_wav(data=PCM[: 2 * SR * 5 // 1000], data_size=2**31),
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(WITHOUT_SPEECH))
def test_upload_without_speech_is_422_and_reaches_no_model(
    client, dispatched, django_capture_on_commit_callbacks, name
):
    before = stored_files() if settings.MEDIA_ROOT.exists() else []
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            URL, {"audio": SimpleUploadedFile("a.wav", WITHOUT_SPEECH[name]), "mode": "en->ru"}
        )
    assert response.status_code == 422, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "no_speech"
    assert error["message"].startswith("no speech found: the recording holds 0 ms of speech")
    # Nothing stored, nothing queued: no worker (and no Canary) ever sees it.
    assert callbacks == [] and dispatched == []
    assert not Translation.objects.exists()
    assert (stored_files() if settings.MEDIA_ROOT.exists() else []) == before
