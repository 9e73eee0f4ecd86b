"""`manage.py translate_file`: the worker's pipeline in-process on a file (model doubles)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from django.core.management import CommandError, call_command

from tests.doubles import DOUBLES_ENV
from tests.speech import speech_like

ROOT = Path(__file__).resolve().parents[2]
EN_TEXT = "Good evening, the train to the airport leaves in ten minutes."


def run_command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("translate_file", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def speech_flac(speech, tmp_path) -> tuple[Path, float]:
    """espeak-ng speech as a 44.1 kHz stereo FLAC."""
    from translation.audio.pcm import resample_float32

    audio, sr = speech.speak(EN_TEXT, "en")
    stereo = np.repeat(resample_float32(audio, sr, 44_100)[:, None], 2, axis=1)
    path = tmp_path / "speech.flac"
    sf.write(path, stereo, 44_100, subtype="PCM_24")
    return path, len(stereo) / 44_100


def test_translates_a_file_prints_both_texts_and_writes_the_wav(engines, speech_flac, tmp_path):
    source, seconds = speech_flac
    out_path = tmp_path / "out.wav"
    stdout, stderr = run_command(str(source), "--mode", "en->ru", "-o", str(out_path))

    # The models hear the speech: the VAD's span, without the file's longer edge silences.
    from translation.audio.files import load_audio_16k
    from translation.audio.vad import require_speech

    heard, _ = require_speech(load_audio_16k(source.read_bytes()), min_speech_ms=250)
    heard_s = len(heard) / 16_000
    assert seconds - 0.5 < heard_s <= seconds
    lines = stdout.splitlines()
    assert lines[0] == f"en->ru, {seconds:.1f} s of audio"
    assert lines[1] == f"[en] en speech {heard_s:.2f} s"
    assert lines[2] == f"[ru] en->ru {heard_s:.2f} s"
    assert "wrote" in lines[3] and "24000 Hz" in lines[3]
    assert "ast_ms" in stderr and "tts_ms" in stderr
    info = sf.info(out_path)
    assert (info.samplerate, info.channels, info.subtype) == (24_000, 1, "PCM_16")
    assert info.frames == int(24_000 * 0.01 * len(f"en->ru {heard_s:.2f} s"))


def test_reads_the_whole_of_a_long_file(engines, tmp_path):
    source = tmp_path / "long.ogg"
    # In blocks: libsndfile's Vorbis encoder crashes on one very large write.
    with sf.SoundFile(source, "w", 16_000, 1, format="OGG") as out:
        for second in np.split(speech_like(150.0), 150):
            out.write(second)
    stdout, _ = run_command(str(source), "--mode", "ru->en", "-o", str(tmp_path / "o.wav"))
    # The worker's batcher sends it as pieces of at most 30 s (cut at pauses): all of it.
    translated = stdout.split("[en] ", 1)[1].split("\n", 1)[0]
    pieces = [float(p.split(" s")[0]) for p in translated.split("ru->en ")[1:]]
    assert len(pieces) >= 5 and max(pieces) <= 30.0
    assert sum(pieces) == pytest.approx(150.0, abs=0.01)


def test_a_file_without_speech_reaches_no_model(engines, tmp_path, monkeypatch):
    from workers import runtime

    monkeypatch.setattr(runtime, "get_pipeline", lambda: pytest.fail("a model was called"))
    source = tmp_path / "silence.wav"
    sf.write(source, np.zeros(10 * 16_000, dtype=np.float32), 16_000)
    with pytest.raises(CommandError, match="no speech found"):
        run_command(str(source), "-o", str(tmp_path / "o.wav"))


def test_voice_and_auto_mode(engines, speech_flac, tmp_path):
    source, _ = speech_flac
    stdout, _ = run_command(str(source), "--voice", "xenia", "-o", str(tmp_path / "o.wav"))
    assert stdout.startswith("en->ru")  # the (double) language ID says English


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "cannot read"),
        (b"", "the audio file is empty"),
        (b"<html><body>not audio</body></html>", "could not read the file as audio"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "could not read the file as audio"),
    ],
    ids=["missing", "empty", "html", "truncated-wav"],
)
def test_unreadable_input_is_a_clear_error(engines, tmp_path, content, says):
    source = tmp_path / "in.wav"
    if content is not None:
        source.write_bytes(content)
    with pytest.raises(CommandError, match=says) as caught:
        run_command(str(source), "--mode", "en->ru", "-o", str(tmp_path / "o.wav"))
    assert str(source) in str(caught.value)
    assert not (tmp_path / "o.wav").exists()


def test_bad_arguments_are_clear_errors(engines, speech_flac, tmp_path):
    source, _ = speech_flac
    with pytest.raises(CommandError, match="invalid choice: 'de->ru'"):
        run_command(str(source), "--mode", "de->ru", "-o", str(tmp_path / "o.wav"))
    with pytest.raises(CommandError, match="unknown voice 'hal'"):
        run_command(str(source), "--voice", "hal", "-o", str(tmp_path / "o.wav"))
    with pytest.raises(CommandError, match="is not a directory"):
        run_command(str(source), "-o", str(tmp_path / "nowhere" / "o.wav"))


def test_tts_failure_prints_the_text_and_fails(engines, speech_flac, tmp_path):
    engines.RUTRANS_SYNTHESIZER = "tests.doubles.FailingSynthesizer"
    source, _ = speech_flac
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError, match="no audio written: speech synthesis failed"):
        call_command(
            "translate_file", str(source), "-o", str(tmp_path / "o.wav"), stdout=out, stderr=err
        )
    assert "[ru] en->" in out.getvalue()
    assert not (tmp_path / "o.wav").exists()


def test_model_load_failure_is_a_clear_error(engines, speech_flac, tmp_path):
    engines.RUTRANS_TRANSLATOR = "tests.doubles.UnloadableTranslator"
    source, _ = speech_flac
    with pytest.raises(CommandError, match="translation failed: .*CUDA out of memory"):
        run_command(str(source), "-o", str(tmp_path / "o.wav"))


def test_command_line(speech_flac, tmp_path):
    """As a user runs it: exit status 0 and a WAV; 1 and one line on stderr for bad input."""
    source, _ = speech_flac
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DOUBLES_ENV, DJANGO_SETTINGS_MODULE="rutrans_site.settings")
    env["RUTRANS_DATA_DIR"] = str(tmp_path / "data")
    out_path = tmp_path / "cli.wav"
    argv = [sys.executable, "manage.py", "translate_file"]
    done = subprocess.run(
        [*argv, str(source), "--mode", "en->ru", "-o", str(out_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "[ru] en->ru" in done.stdout and sf.info(out_path).samplerate == 24_000

    bad = tmp_path / "bad.wav"
    bad.write_text("<html></html>")
    failed = subprocess.run(
        [*argv, str(bad), "-o", str(tmp_path / "x.wav")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1].startswith(f"CommandError: {bad}: could not")
