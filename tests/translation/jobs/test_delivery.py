"""Delivery of a finished row to its live session, through the real in-memory channel layer:
typed events, in order (result, audio pieces, audio end; or the failure)."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
import soundfile as sf
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from translation.audio.wav import wav_bytes_from_float32
from translation.events import AudioEnd, AudioPiece, UtteranceFailed, UtteranceResult
from translation.jobs.delivery import deliver_result
from translation.messaging.channel_layer import remember_event_loop
from translation.models import Translation
from translation.protocol.messages import MAX_MESSAGE_BYTES

pytestmark = pytest.mark.timeout(30)


def live_row(channel: str, **fields) -> Translation:
    """A live row as the worker leaves it (never saved: delivery reads only the row)."""
    defaults = dict(
        source=Translation.Source.LIVE,
        session_id="s" * 32,
        seq=3,
        reply_channel=channel,
        status=Translation.Status.DONE,
        src_lang="en",
        tgt_lang="ru",
        text="привет",
        source_text="hello",
        attempts=2,
        timings={"queue_ms": 1.5},
        meta={"lid": None},
        stream_start_s=1.0,
        stream_end_s=2.5,
    )
    return Translation(**{**defaults, **fields})


async def delivered(row: Translation, wav: bytes | None) -> list[dict]:
    layer = get_channel_layer()
    remember_event_loop(asyncio.get_running_loop())  # the embedded server's loop
    assert await sync_to_async(deliver_result)(row, wav=wav) is True
    messages = []
    while True:
        message = await asyncio.wait_for(layer.receive(row.reply_channel), timeout=5)
        messages.append(message)
        if message["type"] in (AudioEnd.type, UtteranceFailed.type):
            return messages


async def test_a_done_row_goes_out_as_result_then_pieces_then_the_end():
    channel = await get_channel_layer().new_channel()
    seconds = 12.0  # more than one 256 KiB WAV frame at 24 kHz
    audio = (0.1 * np.sin(np.arange(int(24_000 * seconds)) / 10)).astype(np.float32)
    wav = wav_bytes_from_float32(audio, 24_000)
    messages = await delivered(live_row(channel), wav)

    result = UtteranceResult.from_message(messages[0])
    assert (result.seq, result.attempt) == (3, 2)
    assert result.result.type == "result" and result.result.text == "привет"
    assert result.result.source_text == "hello"
    assert (result.result.start_s, result.result.end_s) == (1.0, 2.5)
    assert result.result.timings == {"queue_ms": 1.5}
    pieces = [AudioPiece.from_message(m) for m in messages[1:-1]]
    assert len(pieces) >= 2 and all(len(p.wav) <= MAX_MESSAGE_BYTES for p in pieces)
    assert {(p.seq, p.attempt) for p in pieces} == {(3, 2)}
    heard = np.concatenate([sf.read(io.BytesIO(p.wav), dtype="float32")[0] for p in pieces])
    assert heard.size == audio.size
    end = AudioEnd.from_message(messages[-1])
    assert (end.seq, end.pieces, end.attempt, end.error) == (3, len(pieces), 2, "")


async def test_a_done_row_whose_speech_failed_ends_with_the_reason_and_no_audio():
    channel = await get_channel_layer().new_channel()
    row = live_row(channel, tts_failed=True, error="synthesis failed: boom")
    messages = await delivered(row, None)
    assert [m["type"] for m in messages] == [UtteranceResult.type, AudioEnd.type]
    assert UtteranceResult.from_message(messages[0]).result.tts_failed is True
    assert AudioEnd.from_message(messages[1]).error == "synthesis failed: boom"


async def test_a_failed_row_goes_out_as_its_failure():
    channel = await get_channel_layer().new_channel()
    row = live_row(channel, status=Translation.Status.FAILED, error="worker lost")
    [message] = await delivered(row, None)
    failed = UtteranceFailed.from_message(message)
    assert (failed.seq, failed.error) == (3, "worker lost")


def test_an_upload_row_has_no_session_to_deliver_to():
    assert deliver_result(live_row("", source=Translation.Source.UPLOAD), wav=None) is False
