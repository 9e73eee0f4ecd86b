"""The soak's talkers (benchmarks/soak.py): a person opens a `/ws/translate` session, speaks a
few sentences at real-time pace, waits for their answers (or hangs up right after the last),
closes it; then the next person takes the place. Each session's counts are checked by the soak;
each answer's lag goes to the sampler."""

from __future__ import annotations

import asyncio
import collections
import random
import time
from dataclasses import dataclass, field

from benchmarks.soak_samples import LagPoint, Sampler
from tests.speech import speech_16k
from tests.wsclient import LiveClient, silence_pcm, to_pcm16

SENTENCES = [
    ("en", "Good morning, everyone."),
    ("ru", "Добрый день, как ваши дела?"),
    ("en", "Could you tell me where the station is?"),
    ("ru", "Я думаю, что встреча займёт час."),
    ("en", "Thank you very much for your help."),
]
MODES = {"en": "en->ru", "ru": "ru->en"}
PAUSE_S = 1.5


@dataclass
class SessionStats:
    flushes: int = 0
    queued: int = 0
    answered: int = 0
    abandoned: int = 0  # a hung-up session's last utterance: not waited for, not counted
    errors: list[str] = field(default_factory=list)
    unanswered: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)


def clips() -> list[tuple[str, bytes]]:
    """(language, 48 kHz stereo PCM of the trimmed sentence)."""
    return [(lang, to_pcm16(speech_16k(text, lang), 16_000)) for lang, text in SENTENCES]


def _queued(client: LiveClient) -> list[dict]:
    return [m for m in client.received.messages if m.get("state") == "queued"]


def _answered(client: LiveClient) -> list[int]:
    return [m["seq"] for m, _, _ in client.received.results] + [
        e["seq"] for e in client.received.errors if "seq" in e
    ]


async def _wait(client: LiveClient, flushes: int, deadline: float) -> None:
    """Until the first `flushes` utterances are queued and those answered."""
    while time.monotonic() < deadline:
        queued = [m["seq"] for m in _queued(client)][:flushes]
        if len(queued) >= flushes and set(queued) <= set(_answered(client)):
            return
        await asyncio.sleep(0.2)


async def run_session(
    ws_url: str,
    start_clip: int,
    stop_at: float,
    pcm_clips,
    *,
    sentences: int | None,
    hang_up: bool,
    sampler: Sampler,
    drain_s: float,
) -> SessionStats:
    """One session: `sentences` of them (None: until stop_at), then it closes."""
    stats = SessionStats()
    client = await LiveClient.connect(ws_url, None)
    sampler.open_sessions += 1
    sampler.sessions_opened += 1
    flush_at: list[float] = []
    lang = None
    try:
        while time.monotonic() < stop_at and (sentences is None or stats.flushes < sentences):
            clip_lang, pcm = pcm_clips[(start_clip + stats.flushes) % len(pcm_clips)]
            if clip_lang != lang:  # a mode change between utterances
                lang = clip_lang
                await client.send_json({"mode": MODES[lang]})
            await client.stream(pcm)
            flush_at.append(time.monotonic())
            await client.flush()
            stats.flushes += 1
            if hang_up and stats.flushes == sentences:
                break
            await client.stream(silence_pcm(PAUSE_S))
        # A caller who hangs up leaves as soon as the last sentence is out: its answer (and
        # maybe its `queued`) comes to a closed session.
        hang_up = hang_up and stats.flushes == sentences
        stats.abandoned = int(hang_up)
        stats.flushes -= stats.abandoned  # what is counted: the utterances it waited for
        await _wait(client, stats.flushes, time.monotonic() + drain_s)
    finally:
        reader = client._reader  # a reader that died (not a framing error) stops reading too
        crashed = reader.done() and not reader.cancelled() and reader.exception() is not None
        await client.close()
        sampler.open_sessions -= 1
    if crashed:
        stats.errors.append(f"client reader died: {reader.exception()!r}"[:300])
    queued = [m["seq"] for m in _queued(client)][: stats.flushes]
    flushed = dict(zip(queued, flush_at, strict=False))  # queued in the order flushed
    for result, _, _ in client.received.results:
        if result["seq"] in flushed:
            timings = result.get("timings", {})
            sampler.lags.append(
                LagPoint(
                    t=round(result["_received_at"] - sampler.t0, 2),
                    client_ms=round(1000 * (result["_received_at"] - flushed[result["seq"]]), 1),
                    queue_ms=timings.get("queue_ms"),
                    total_ms=timings.get("total_ms"),
                    loop_lag_ms=timings.get("loop_lag_ms"),
                )
            )
    counts = collections.Counter(_answered(client))
    stats.queued = len(queued)
    stats.answered = len(set(queued) & set(counts))
    stats.errors += [e["error"] for e in client.received.errors]
    if client.violation is not None:  # the reader stopped there: what followed is unread
        stats.errors.append(f"protocol broken: {client.violation}"[:300])
    stats.duplicates = sorted(seq for seq, n in counts.items() if n > 1)
    stats.unanswered = sorted(set(queued) - set(counts))
    return stats


async def talker(
    ws_url: str,
    index: int,
    stop_at: float,
    pcm_clips,
    *,
    churn: tuple[int, int] | None,
    hangup_share: float,
    sampler: Sampler,
    drain_s: float,
) -> list[SessionStats]:
    """One person: session after session until stop_at (one session when churn is None)."""
    rng = random.Random(index)
    done: list[SessionStats] = []
    clip = index
    while time.monotonic() < stop_at:
        sentences = rng.randint(*churn) if churn else None
        hang_up = churn is not None and rng.random() < hangup_share
        try:
            stats = await run_session(
                ws_url,
                clip,
                stop_at,
                pcm_clips,
                sentences=sentences,
                hang_up=hang_up,
                sampler=sampler,
                drain_s=drain_s,
            )
        except (OSError, AssertionError, TimeoutError) as exc:  # refused or dropped at open
            stats = SessionStats(errors=[f"session: {exc!r}"[:300]])
            await asyncio.sleep(1.0)
        done.append(stats)
        clip += stats.flushes
        if churn is None:
            break
        await asyncio.sleep(rng.uniform(0.2, 2.0))  # the next person joins
    return done
