"""The worker's side of live captions (workers/captions.py, TranslationPipeline.caption) and
how partials are handed over (translation/streaming/caption_dispatch.py, through the task
backend): embedded, and on Redis."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.doubles import ScriptedTranslator
from tests.services import fresh_redis_database
from translation.backend import InlineAudio, celery_backend, task_backend
from translation.backend.broker import broker_redis, forget_client
from translation.constants import CAPTION_TASK, CAPTIONS_QUEUE, FINALS_QUEUE
from translation.streaming import caption_dispatch
from workers import captions as worker_captions
from workers.pipeline import TranslationPipeline


class NoVoice:
    def synthesize(self, text, *, lang, voice=None):
        raise AssertionError("a partial must not be spoken")


class Russian:
    def identify(self, audio):
        from workers.engines.base import LanguageGuess

        return LanguageGuess(lang="ru", confidence=0.8)


def job(seconds: float = 2.0, **overrides) -> caption_dispatch.PartialJob:
    fields = {
        "reply_channel": "specific.test!abc",
        "seq": 4,
        "part": 2,
        "src": "en",
        "tgt": "ru",
        "audio": np.full(int(seconds * 16_000), 0.25, dtype=np.float32),
        "start_s": 10.0,
        "speech_s": 1.5,
        **overrides,
    }
    return caption_dispatch.PartialJob(**fields)


@pytest.fixture
def pushed(monkeypatch) -> list[tuple[str, dict]]:
    """What the worker sent, as (channel, channel-layer message)."""
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        worker_captions, "send_event", lambda ch, ev: sent.append((ch, ev.to_message())) or True
    )
    return sent


# --- the pipeline --------------------------------------------------------------------------------


def test_caption_runs_only_the_translator():
    pipeline = TranslationPipeline(
        translator=ScriptedTranslator(), synthesizer=NoVoice(), identifier=Russian()
    )
    result = pipeline.caption(np.zeros(32_000, np.float32), src="en", tgt="ru")
    assert (result.src, result.tgt) == ("en", "ru")
    assert (result.text, result.source_text) == ("en->ru 2.00 s", "en speech 2.00 s")
    assert set(result.timings) == {"ast_ms", "total_ms"}


def test_caption_in_auto_mode_identifies_the_language_first():
    pipeline = TranslationPipeline(
        translator=ScriptedTranslator(), synthesizer=NoVoice(), identifier=Russian()
    )
    result = pipeline.caption(np.zeros(16_000, np.float32), src="auto", tgt=None)
    assert (result.src, result.tgt, result.text) == ("ru", "en", "ru->en 1.00 s")
    assert "lid_ms" in result.timings


# --- the worker, embedded hand-over --------------------------------------------------------------


def request_of(
    partial: caption_dispatch.PartialJob, *, pcm: bytes | None = None, **overrides
) -> caption_dispatch.CaptionRequest:
    """The embedded hand-over: the audio in the request itself."""
    pcm = caption_dispatch.to_int16_bytes(partial.audio) if pcm is None else pcm
    request = partial.request(InlineAudio(pcm=pcm))
    return request.model_copy(update=overrides)


def test_partial_is_translated_and_pushed_to_the_session(engines, pushed):
    worker_captions.caption_partial(request_of(job()))
    [(channel, event)] = pushed
    assert channel == "specific.test!abc"
    assert (event["type"], event["seq"], event["part"], event["src"]) == (
        "translation.partial",
        4,
        2,
        "en",
    )
    partial = event["partial"]
    assert (partial["type"], partial["seq"], partial["part"]) == ("partial", 4, 2)
    assert (partial["text"], partial["source_text"]) == ("en->ru 2.00 s", "en speech 2.00 s")
    assert (partial["start_s"], partial["end_s"], partial["speech_s"]) == (10.0, 12.0, 1.5)
    assert {"queue_ms", "ast_ms", "total_ms"} <= partial["timings"].keys()


def test_a_stale_partial_is_skipped_unrun(engines, pushed, settings):
    settings.CAPTION_EXPIRES_S = 2.0
    worker_captions.caption_partial(request_of(job(), sent_at=time.time() - 2.5))
    assert pushed == [("specific.test!abc", pushed[0][1])]
    assert pushed[0][1]["skipped"] == "expired" and "partial" not in pushed[0][1]


def test_a_partial_that_waited_longer_than_the_cadence_is_skipped(engines, pushed, settings):
    settings.CAPTION_INTERVAL_S, settings.CAPTION_EXPIRES_S = 1.0, 2.0
    worker_captions.caption_partial(request_of(job(), sent_at=time.time() - 1.2))
    assert pushed[0][1]["skipped"] == "behind"


def test_a_partial_steps_aside_for_a_waiting_final(engines, pushed, monkeypatch):
    monkeypatch.setattr(task_backend(), "_finals_waiting", 1)
    worker_captions.caption_partial(request_of(job()))
    assert pushed[0][1]["skipped"] == "finals waiting"


def test_an_engine_error_skips_the_partial(engines, pushed):
    worker_captions.caption_partial(request_of(job(seconds=0.0), pcm=b""))
    assert pushed[0][1]["skipped"] == "expired"  # no audio: nothing to translate
    engines.RUTRANS_TRANSLATOR = "tests.doubles.UnloadableTranslator"
    from workers import runtime

    runtime.reset()
    worker_captions.caption_partial(request_of(job()))
    assert pushed[1][1]["skipped"] == "error"


def test_embedded_dispatch_declines_while_a_final_waits(engines, monkeypatch):
    monkeypatch.setattr(task_backend(), "_finals_waiting", 2)
    assert caption_dispatch.submit_partial(job()) == "finals waiting"


def test_int16_round_trip_keeps_the_audio():
    audio = np.array([-1.0, -0.5, 0.0, 0.5, 0.999], dtype=np.float32)
    pcm = caption_dispatch.to_int16_bytes(audio)
    assert len(pcm) == 10
    back = caption_dispatch.take_partial_audio(request_of(job(), pcm=pcm))
    assert np.allclose(back, audio, atol=1 / 32768)


# --- the real stack's hand-over: Redis -----------------------------------------------------------


@pytest.fixture
def broker(settings, monkeypatch):
    url = fresh_redis_database(9)
    settings.EMBEDDED = False
    settings.REDIS_URL = url
    settings.CAPTION_EXPIRES_S = 2.0
    forget_client()
    sent: list[dict] = []
    from rutrans_site.celery import app

    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append({"name": name, **kw}))
    yield broker_redis(), sent
    forget_client()


def test_redis_dispatch_sends_by_name_with_expiry_and_the_audio_in_a_short_lived_key(broker):
    client, sent = broker
    partial = job(seconds=1.0)
    assert caption_dispatch.submit_partial(partial) is None
    [task] = sent
    assert (task["name"], task["queue"], task["expires"]) == (
        "translation.caption",
        "captions",
        2.0,
    )
    [sent_json] = task["args"]  # the task goes as JSON: the audio is in Redis, not in it
    request = caption_dispatch.CaptionRequest.model_validate(sent_json)
    assert sent_json["audio"] == {"where": "redis", "key": request.audio.key}
    assert (request.seq, request.part) == (4, 2)
    key = request.audio.key
    assert 0 < client.ttl(key) <= 2 + celery_backend.AUDIO_KEY_SLACK_S
    assert client.strlen(key) == 2 * 16_000
    audio = caption_dispatch.take_partial_audio(request)
    assert audio.size == 16_000 and abs(float(audio[0]) - 0.25) < 1e-4
    assert client.exists(key) == 0  # taken once
    assert caption_dispatch.take_partial_audio(request) is None


def test_redis_dispatch_skips_while_finals_wait_or_the_captions_queue_is_full(broker):
    client, sent = broker
    client.rpush(FINALS_QUEUE, b"a final")
    assert caption_dispatch.finals_waiting() == 1
    assert caption_dispatch.submit_partial(job()) == "finals waiting"
    client.delete(FINALS_QUEUE)
    client.rpush(CAPTIONS_QUEUE, *[b"p"] * celery_backend.MAX_QUEUED)
    assert caption_dispatch.submit_partial(job()) == "captions queue full"
    assert sent == []
    assert client.keys(celery_backend.AUDIO_KEY_PREFIX + "*") == []


def test_the_caption_task_is_routed_to_its_own_queue_and_never_redelivered(settings):
    from workers.tasks import caption

    assert caption.name == CAPTION_TASK
    assert settings.CELERY_TASK_ROUTES[caption.name] == {"queue": CAPTIONS_QUEUE}
    assert caption.acks_late is False and caption.ignore_result is True
