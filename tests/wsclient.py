"""A scripted `/ws/translate` client: streams PCM like the browser's AudioWorklet does, and
reads results as the protocol frames them (result JSON, WAV pieces, audio_end)."""

from __future__ import annotations

import asyncio
import io
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import soundfile as sf
import websockets

from translation.audio.pcm import resample_float32
from translation.audio.wav import wav_bytes_from_float32


def to_pcm16(audio: np.ndarray, sr: int, *, out_sr: int = 48_000, channels: int = 2) -> bytes:
    """Float mono audio → interleaved little-endian int16 at out_sr (the browser's format)."""
    resampled = resample_float32(audio, sr, out_sr) if sr != out_sr else audio
    pcm = (np.clip(resampled, -1.0, 1.0) * 32767).astype("<i2")
    if channels == 2:
        pcm = np.repeat(pcm, 2)
    return pcm.tobytes()


def silence_pcm(seconds: float, *, sr: int = 48_000, channels: int = 2) -> bytes:
    return bytes(int(seconds * sr) * 2 * channels)


@dataclass
class Received:
    """What the server sent. `results` has one entry per answered utterance, once its audio
    has ended: (the result JSON with the audio end's timings merged in, its WAV pieces joined
    into one WAV or None, when its first audio arrived, else when the result did)."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    results: list[tuple[dict[str, Any], bytes | None, float]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    pieces: dict[int, list[tuple[bytes, float]]] = field(default_factory=dict)  # per seq
    ends: dict[int, dict[str, Any]] = field(default_factory=dict)  # audio_end per seq
    max_message_bytes: int = 0


def join_wavs(frames: list[bytes]) -> bytes:
    """Several WAV pieces of one result as one WAV (they share a sample rate)."""
    parts = [sf.read(io.BytesIO(frame), dtype="float32") for frame in frames]
    rates = {rate for _, rate in parts}
    assert len(rates) == 1, f"pieces of one result at different rates: {rates}"
    return wav_bytes_from_float32(np.concatenate([audio for audio, _ in parts]), rates.pop())


class LiveClient:
    """One WebSocket session. `received` fills in the background while audio is sent."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.received = Received()
        self.violation: AssertionError | None = None
        self.session = ""  # the server's id for this session (its `ready` status)
        self._reader = asyncio.create_task(self._read())
        self._new = asyncio.Event()

    @classmethod
    async def connect(cls, base_ws_url: str, control: dict[str, Any] | None) -> LiveClient:
        origin = base_ws_url.replace("ws://", "http://")
        ws = await websockets.connect(base_ws_url + "/ws/translate", origin=origin, max_size=2**24)
        ready = json.loads(await ws.recv())
        assert ready["type"] == "status" and ready["state"] == "ready", ready
        client = cls(ws)
        client.session = ready["session"]
        if control is not None:
            await client.send_json(control)
            await client.wait_for(lambda m: m.get("state") == "configured", 5)
        return client

    async def send_json(self, payload: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(payload))

    async def stream(
        self,
        pcm: bytes,
        *,
        sample_rate: int = 48_000,
        channels: int = 2,
        frame_ms: int = 20,
        realtime: bool = True,
    ) -> float:
        """Send PCM in frames, paced like a live microphone; returns the monotonic time the
        last frame went out."""
        frame_bytes = sample_rate * frame_ms // 1000 * 2 * channels
        start = time.monotonic()
        view = memoryview(pcm)
        for i, offset in enumerate(range(0, len(pcm), frame_bytes)):
            if realtime:
                delay = start + i * frame_ms / 1000 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await self.ws.send(bytes(view[offset : offset + frame_bytes]))
        return time.monotonic()

    async def flush(self) -> None:
        await self.ws.send("__flush__")

    async def _read(self) -> None:
        """Checks the framing as it reads: WAV pieces only between a result and its
        audio_end, seqs in order, every message at most MAX_MESSAGE_BYTES."""
        open_result: dict[str, Any] | None = None
        try:
            async for message in self.ws:
                now = time.monotonic()
                size = len(message if isinstance(message, bytes) else message.encode())
                self.received.max_message_bytes = max(self.received.max_message_bytes, size)
                if isinstance(message, bytes):
                    assert open_result is not None, "binary frame without a result before it"
                    self.received.pieces[open_result["seq"]].append((message, now))
                    self._new.set()
                    continue
                data = json.loads(message)
                data["_received_at"] = now  # client-side arrival (monotonic)
                self.received.messages.append(data)
                if data["type"] == "result":
                    assert open_result is None, f"result {data['seq']} inside {open_result}"
                    open_result = data
                    self.received.pieces[data["seq"]] = []
                elif data["type"] == "audio_end":
                    assert open_result is not None and open_result["seq"] == data["seq"], data
                    self._complete(open_result, data)
                    open_result = None
                elif data["type"] == "error":
                    self.received.errors.append(data)
                self._new.set()
        except websockets.ConnectionClosed:
            pass
        except AssertionError as exc:  # a framing error: reported by the next wait
            self.violation = exc
            self._new.set()

    def _check(self) -> None:
        if self.violation is not None:
            raise AssertionError(f"the server broke the protocol: {self.violation}")

    def _complete(self, result: dict[str, Any], end: dict[str, Any]) -> None:
        pieces = self.received.pieces[result["seq"]]
        assert end["pieces"] == len(pieces), f"audio_end says {end['pieces']}, got {len(pieces)}"
        self.received.ends[result["seq"]] = end
        result["timings"] = {**result["timings"], **end.get("timings", {})}
        wav = join_wavs([frame for frame, _ in pieces]) if pieces else None
        first_audio_at = pieces[0][1] if pieces else result["_received_at"]
        self.received.results.append((result, wav, first_audio_at))

    async def wait_for(self, predicate, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            self._check()
            for message in self.received.messages[seen:]:
                if predicate(message):
                    return message
            seen = len(self.received.messages)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching message in {timeout} s: {self.received.messages}")
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), remaining)
            except TimeoutError:
                pass

    async def wait_results(
        self, count: int, timeout: float
    ) -> list[tuple[dict, bytes | None, float]]:
        deadline = time.monotonic() + timeout
        while (
            len(self.received.results) + len([e for e in self.received.errors if "seq" in e])
            < count
        ):
            self._check()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"{len(self.received.results)} of {count} results in {timeout} s; "
                    f"messages: {self.received.messages}"
                )
            self._new.clear()
            try:
                await asyncio.wait_for(self._new.wait(), remaining)
            except TimeoutError:
                pass
        return self.received.results

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
