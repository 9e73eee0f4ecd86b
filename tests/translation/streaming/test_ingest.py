"""Many sessions' VAD windows scored together cut exactly what each would cut alone."""

import asyncio
import json

import numpy as np

from tests.speech import continuous_read_speech, silence, speech_16k
from tests.wsclient import to_pcm16
from translation.streaming import ingest
from translation.streaming.session import LiveSession, PendingUtterance

FRAME = 320  # 20 ms at 16 kHz


def configured() -> LiveSession:
    live = LiveSession()
    live.configure(json.dumps({"mode": "en->ru", "sample_rate": 16_000, "channels": 1}))
    return live


def pcm(audio: np.ndarray) -> bytes:
    return to_pcm16(audio, 16_000, out_sr=16_000, channels=1)


def streams() -> list[np.ndarray]:
    """Real read speech (from different offsets), synthetic sentences with pauses, silence."""
    read = continuous_read_speech()[0].astype(np.float32)
    sentence = speech_16k("Good morning, everyone.", "en")
    russian = speech_16k("Поезд отправляется в девять часов.", "ru")
    return [
        read[: 14 * 16_000],
        read[5 * 16_000 : 17 * 16_000],
        np.concatenate([silence(0.4), sentence, silence(1.2), russian, silence(1.2)]),
        silence(3.0),
    ]


def cut(pending: list[PendingUtterance]) -> list[tuple]:
    return [
        (
            p.seq,
            p.utterance.reason,
            p.utterance.start_s,
            p.utterance.end_s,
            p.utterance.audio.tobytes(),
        )
        for p in pending
    ]


def test_sessions_scored_together_cut_what_each_cuts_alone():
    audio = streams()
    alone = []
    for stream in audio:
        live = configured()
        pending = [
            p for i in range(0, len(stream), FRAME) for p in live.ingest(pcm(stream[i : i + FRAME]))
        ]
        alone.append(cut(pending + live.flush()))

    together = [configured() for _ in audio]
    got: list[list[PendingUtterance]] = [[] for _ in audio]
    longest = max(len(s) for s in audio)
    for i in range(0, longest, FRAME):
        # A turn of the loop: some sessions sent a frame, one sent three (a burst).
        turn = []
        for n, (live, stream) in enumerate(zip(together, audio, strict=True)):
            frames = 3 if n == 1 and (i // FRAME) % 7 == 0 else 1
            for _ in range(frames):
                if i < len(stream):
                    live.take_frame(pcm(stream[i : i + FRAME]))
            turn.append(live)
        for live, pending in ingest.score_sessions(turn).items():
            got[together.index(live)] += pending
    # (the bursts repeat frames, so that session is compared with its own twin below)
    twin = configured()
    twin_pending = []
    for i in range(0, len(audio[1]), FRAME):
        for _ in range(3 if (i // FRAME) % 7 == 0 else 1):
            twin_pending += twin.ingest(pcm(audio[1][i : i + FRAME]))
    alone[1] = cut(twin_pending + twin.flush())

    results = [cut(pending + live.flush()) for pending, live in zip(got, together, strict=True)]
    assert results == alone
    assert len(alone[0]) >= 2 and len(alone[2]) == 2 and alone[3] == []


def test_a_flush_scores_the_queued_audio_first():
    sentence = speech_16k("Good morning, everyone.", "en")
    scored, queued = configured(), configured()
    for i in range(0, len(sentence), FRAME):
        scored.ingest(pcm(sentence[i : i + FRAME]))
        queued.take_frame(pcm(sentence[i : i + FRAME]))  # nothing scored yet
    assert not queued.segmenter.has_speech
    assert cut(queued.flush()) == cut(scored.flush())


async def test_shared_scoring_hands_each_session_its_utterances_and_survives_a_failure():
    sentence = np.concatenate([speech_16k("Good morning, everyone.", "en"), silence(1.2)])
    sessions = [configured() for _ in range(3)]
    got: dict[int, list[PendingUtterance]] = {0: [], 1: [], 2: []}

    def handler(n: int):
        async def ingested(pending: list[PendingUtterance]) -> None:
            if n == 1:
                raise RuntimeError("this session's socket is gone")
            got[n] += pending

        return ingested

    for i in range(0, len(sentence), FRAME):
        for n, live in enumerate(sessions):
            live.take_frame(pcm(sentence[i : i + FRAME]))
            ingest.scoring.add(live, handler(n))
        await asyncio.sleep(0)  # a turn of the loop: the shared task scores all three
    for _ in range(3):
        await asyncio.sleep(0)
    assert [p.seq for p in got[0]] == [0] and [p.seq for p in got[2]] == [0]
    assert cut(got[0]) == cut(got[2])
    assert sessions[1].next_seq == 1  # cut too; only its handler failed
