"""Fuzz `/ws/translate` on a real Daphne (the embedded single process, test-double engines).

Several connections send over 10,000 seeded-random malformed messages between them: random
bytes of odd lengths, empty frames, frames larger than MAX_FRAME_BYTES, invalid JSON, controls
of the wrong types or unknown modes, audio before any control, flush storms, and control
changes in the middle of real speech. Every message must be answered as the protocol says
(predicted here with the same `parse_control` the server uses):

- a text that is not a valid control → one `error`; a valid control → one `configured`;
- a binary frame before the first valid control → ONE error, then silence until a control;
  after it, an empty, oversized or misaligned frame → one `frame dropped` error;
- `__flush__` → `flushed` (nothing to end) or a `queued` utterance, which is answered.

Daphne must stay up with bounded memory, and the same connections translate speech afterwards.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect as connect_sync

from benchmarks.soak import rss_mb
from tests.doubles import DOUBLES_ENV
from tests.speech import speech_16k
from tests.stack import start_stack
from tests.translation.protocol.test_control import JSON_VALUES, controls, deeply_nested
from tests.wsclient import to_pcm16
from translation.protocol.control import FLUSH, ProtocolError, parse_control

pytestmark = [pytest.mark.timeout(180)]

SEED = 20260808
CONNECTIONS = 8
MESSAGES_PER_CONNECTION = 1_300  # 10,400 in all
MAX_FRAME_BYTES = 64_000
SERVER_MAX_MESSAGE_BYTES = 1_048_576  # WEBSOCKET_MAX_MESSAGE_BYTES's default
RSS_GROWTH_LIMIT_MB = 60.0

BAD_CONTROLS = [
    {"mode": "klingon"},
    {"mode": "en->de"},
    {"mode": 5},
    {"mode": None, "src": "de"},
    {"src": ["en"]},
    {"src": "en", "tgt": "en"},
    {"tgt": 7},
    {"sample_rate": "48000"},
    {"sample_rate": 1},
    {"sample_rate": 10**12},
    {"sample_rate": True},
    {"sample_rate": 44100.5},
    {"channels": 3},
    {"channels": 0},
    {"channels": "2"},
    {"voice": 7},
    {"voice": "nobody"},
    {"voice": {"de": "x"}},
    {"voice": {"ru": "en_1"}},
    [],
    [1, 2, 3],
    None,
    "en->ru",
    42,
    {"mode": "auto", "pad": "x" * 5_000},
]


@dataclass
class Expected:
    """The protocol's answer to each message, predicted message by message."""

    configured: bool = False
    warned: bool = False
    channels: int = 2
    sample_rate: int = 48_000
    errors: int = 0
    configured_replies: int = 0
    flushes: int = 0
    sent: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def binary(self, frame: bytes) -> None:
        if not self.configured:
            if not self.warned:
                self.errors += 1
                self.warned = True
            return
        size = len(frame)
        if size == 0 or size > MAX_FRAME_BYTES or size % (2 * self.channels):
            self.errors += 1

    def text(self, text: str) -> None:
        if text == FLUSH:
            self.flushes += 1
            return
        try:
            config = parse_control(text)
        except ProtocolError:
            self.errors += 1
            return
        self.configured, self.warned = True, False
        self.channels, self.sample_rate = config.channels, config.sample_rate
        self.configured_replies += 1


def random_text(rng: random.Random) -> str:
    choice = rng.random()
    if choice < 0.3:  # printable garbage, often JSON-ish
        alphabet = '{}[]":,0123456789 abcdefmodesrctgn\\-><'
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))
    if choice < 0.5:  # any unicode
        return "".join(chr(rng.randrange(1, 0xD7FF)) for _ in range(rng.randrange(1, 40)))
    if choice < 0.9:
        return json.dumps(rng.choice(BAD_CONTROLS))
    return json.dumps(rng.choice(BAD_CONTROLS))[: rng.randrange(1, 12)]  # truncated JSON


def valid_control(rng: random.Random) -> str:
    control = {
        "mode": rng.choice(["en->ru", "ru->en", "auto"]),
        "sample_rate": rng.choice([16_000, 44_100, 48_000]),
        "channels": rng.choice([1, 2]),
        "unknown_field": rng.random(),
    }
    if rng.random() < 0.3:
        control["voice"] = {"ru": rng.choice(["baya", "aidar"])}
    return json.dumps(control)


def fuzz_messages(rng: random.Random, count: int, speech, *, configured: bool):
    """(kind, payload) pairs and the predicted answers; `speech` (16 kHz mono float) is cut by
    control changes mid-utterance; `configured`: the session already has a 48 kHz stereo
    control."""
    expected = Expected(configured=configured)
    messages: list[tuple[str, str | bytes]] = []

    def add(kind: str, payload: str | bytes) -> None:
        messages.append((kind, payload))
        expected.kinds[kind] = expected.kinds.get(kind, 0) + 1
        (expected.text if isinstance(payload, str) else expected.binary)(payload)

    while len(messages) < count:
        roll = rng.random()
        if roll < 0.38:
            add("odd_bytes", rng.randbytes(rng.randrange(0, 4000) | 1))
        elif roll < 0.43:
            block = 2 * expected.channels
            add("aligned_bytes", bytes(block * rng.randrange(1, 400)))  # silence
        elif roll < 0.46:
            add("empty_frame", b"")
        elif roll < 0.47:
            add("oversized", rng.randbytes(MAX_FRAME_BYTES + 4 * rng.randrange(1, 1000)))
        elif roll < 0.83:
            add("bad_text", random_text(rng))
        elif roll < 0.88:
            add("control", valid_control(rng))
        elif roll < 0.985:
            for _ in range(rng.randrange(1, 12)):  # a flush storm
                add("flush", FLUSH)
        elif expected.configured:
            # Speech in the session's format, cut off by a control change mid-utterance.
            pcm = to_pcm16(speech, 16_000, out_sr=expected.sample_rate, channels=expected.channels)
            cut = len(pcm) // 2 // (2 * expected.channels) * (2 * expected.channels)
            frame = expected.sample_rate // 50 * 2 * expected.channels
            for offset in range(0, cut, frame):
                add("speech", pcm[offset : min(offset + frame, cut)])
            add("control", valid_control(rng))
    expected.sent = len(messages)
    return messages, expected


class FuzzConnection:
    def __init__(self, ws) -> None:
        self.ws = ws
        self.texts: list[dict] = []
        self.binaries = 0
        self.closed: Exception | None = None
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if isinstance(message, bytes):
                    self.binaries += 1
                else:
                    self.texts.append(json.loads(message))
        except websockets.ConnectionClosed as exc:
            self.closed = exc

    def count(self, predicate) -> int:
        return sum(1 for m in self.texts if predicate(m))

    async def wait(self, predicate, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.count(predicate) < n:
            assert self.closed is None, f"connection closed: {self.closed}"
            assert time.monotonic() < deadline, (
                f"{self.count(predicate)} of {n} in {timeout} s; last: {self.texts[-5:]}"
            )
            await asyncio.sleep(0.05)

    def untagged_errors(self) -> int:
        return self.count(lambda m: m["type"] == "error" and "seq" not in m)

    def queued(self) -> set[int]:
        return {m["seq"] for m in self.texts if m.get("state") == "queued"}

    def answered(self) -> list[int]:
        return [
            m["seq"]
            for m in self.texts
            if m["type"] == "result" or "seq" in m and m["type"] == "error"
        ]


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory):
    env = {**DOUBLES_ENV, "MAX_FRAME_BYTES": str(MAX_FRAME_BYTES), "UTTERANCE_SILENCE_MS": "900"}
    stack = start_stack(
        tmp_path_factory.mktemp("fuzz"), database_url=None, redis_url=None, extra_env=env
    )
    yield stack
    stack.stop_all()


async def open_connection(stack) -> FuzzConnection:
    ws = await websockets.connect(
        stack.ws_url + "/ws/translate", origin=stack.http_url, max_size=2**24
    )
    conn = FuzzConnection(ws)
    await conn.wait(lambda m: m.get("state") == "ready", 1, 10)
    return conn


async def translate_valid_utterance(conn: FuzzConnection, speech, timeout: float = 20) -> dict:
    """A correct control, speech, flush: the result and its WAV must come back."""
    before_configured = conn.count(lambda m: m.get("state") == "configured")
    before_results = conn.count(lambda m: m["type"] == "result")
    await conn.ws.send(json.dumps({"mode": "en->ru", "sample_rate": 48_000, "channels": 2}))
    await conn.wait(lambda m: m.get("state") == "configured", before_configured + 1, 10)
    pcm = to_pcm16(speech, 16_000)
    for offset in range(0, len(pcm), 3840):
        await conn.ws.send(pcm[offset : offset + 3840])
    await conn.ws.send(FLUSH)
    await conn.wait(lambda m: m["type"] == "result", before_results + 1, timeout)
    return [m for m in conn.texts if m["type"] == "result"][-1]


async def test_ten_thousand_malformed_messages(fuzz_stack, record_property):
    speech = speech_16k("Thank you very much.", "en")
    daphne_pid = fuzz_stack.procs["daphne"].pid
    conns = [await open_connection(fuzz_stack) for _ in range(CONNECTIONS)]
    # Warm up (first result on each connection), then take the memory baseline.
    for conn in conns:
        await translate_valid_utterance(conn, speech)
    rss_before = rss_mb(daphne_pid)

    # Half of the connections start as a fresh session does, before any control; the others
    # keep the warm-up's control (48 kHz stereo).
    for i in range(0, CONNECTIONS, 2):
        await conns[i].ws.close()
        conns[i] = await open_connection(fuzz_stack)
    plans = [
        fuzz_messages(
            random.Random(SEED + i), MESSAGES_PER_CONNECTION, speech, configured=i % 2 == 1
        )
        for i in range(CONNECTIONS)
    ]
    baseline = [
        (c.untagged_errors(), c.count(lambda m: m.get("state") == "configured")) for c in conns
    ]

    started = time.monotonic()

    async def fuzz(conn: FuzzConnection, messages) -> None:
        for _, payload in messages:
            await conn.ws.send(payload)

    await asyncio.gather(*(fuzz(c, plan[0]) for c, plan in zip(conns, plans, strict=True)))
    sent = sum(plan[1].sent for plan in plans)
    # Replies come in order: a last control on each connection; once its `configured` is in,
    # every message before it has been handled.
    for conn in conns:
        await conn.ws.send(json.dumps({"mode": "en->ru"}))
    for conn, (_, expected), (_, configured0) in zip(conns, plans, baseline, strict=True):
        target = configured0 + expected.configured_replies + 1
        await conn.wait(lambda m: m.get("state") == "configured", target, 90)
    fuzz_s = time.monotonic() - started

    for conn, (_, expected), (errors0, _) in zip(conns, plans, baseline, strict=True):
        assert conn.closed is None
        assert conn.untagged_errors() - errors0 == expected.errors, expected.kinds
        flushed = conn.count(lambda m: m.get("state") == "flushed")
        assert flushed <= expected.flushes <= flushed + len(conn.queued())

    # Every utterance the fuzzing cut (control changes mid-speech, flushes) is answered once.
    deadline = time.monotonic() + 30
    for conn in conns:
        while not conn.queued() <= set(conn.answered()) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        answered = conn.answered()
        assert conn.queued() <= set(answered)
        assert len(answered) == len(set(answered)), "an utterance was answered twice"

    # The same connections still translate.
    for conn in conns:
        wavs = conn.binaries
        result = await translate_valid_utterance(conn, speech)
        assert result["text"].startswith("en->ru")
        await conn.wait(lambda m: True, 0, 0)
        deadline = time.monotonic() + 5
        while conn.binaries == wavs and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert conn.binaries == wavs + 1  # its WAV
    rss_after = rss_mb(daphne_pid)

    assert fuzz_stack.procs["daphne"].poll() is None
    log = fuzz_stack.log_text("daphne")
    assert "Traceback" not in log and " ERROR " not in log, log[-3000:]
    figures = {
        "messages": sent,
        "connections": CONNECTIONS,
        "fuzz_s": round(fuzz_s, 1),
        "rss_before_mb": rss_before,
        "rss_after_mb": rss_after,
        "expected_errors": sum(p[1].errors for p in plans),
        "kinds": {k: sum(p[1].kinds.get(k, 0) for p in plans) for k in plans[0][1].kinds},
    }
    record_property("ws_fuzz", json.dumps(figures))
    print(f"\nws fuzz: {figures}")
    assert sent >= 10_000
    assert rss_after - rss_before < RSS_GROWTH_LIMIT_MB, figures


# --- the control message's schema, fuzzed over one live socket (issue 16) ------------------------

ISSUE_16_CONTROLS = [
    "[" * 999 + "]" * 999,  # RecursionError in the stdlib parser: once a 1011
    '{"mode": {"a": 1}}',  # TypeError: unhashable type: once a 1011
    '{"mode": ["en->ru"]}',
    '{"sample_rate": ' + "9" * 4000 + "}",
    '{"voice": {"ru": ["baya"]}}',
]
SOCKET_CONTROLS = st.one_of(
    controls().map(lambda c: json.dumps(c, ensure_ascii=False)),
    JSON_VALUES.map(json.dumps),
    st.builds(deeply_nested, st.integers(1, 10_000), st.sampled_from(["[", "{"])),
    st.text(max_size=200).filter(lambda t: t != FLUSH),
)


@pytest.fixture(scope="module")
def control_socket(fuzz_stack):
    """One session that every fuzzed control goes through, in turn."""
    url = fuzz_stack.ws_url + "/ws/translate"
    with connect_sync(url, origin=fuzz_stack.http_url, max_size=2**24) as ws:
        assert json.loads(ws.recv(timeout=10))["state"] == "ready"
        ws.tally = {"error": 0, "configured": 0}
        yield ws


def answer_to_control(ws, raw: str) -> None:
    """One control, one reply: `configured` exactly when the schema accepts it, else `error`."""
    try:
        parse_control(raw)
        expected = "configured"
    except ProtocolError:
        expected = "error"
    ws.send(raw)
    reply = json.loads(ws.recv(timeout=10))
    got = "error" if reply["type"] == "error" else reply.get("state")
    assert got == expected, (raw[:200], reply)
    ws.tally[expected] += 1


@pytest.mark.parametrize("raw", ISSUE_16_CONTROLS)
def test_issue_16_controls_get_an_error(control_socket, raw):
    answer_to_control(control_socket, raw)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=SOCKET_CONTROLS)
def test_any_control_gets_its_answer_on_the_same_socket(control_socket, raw):
    answer_to_control(control_socket, raw)


def translate_sync(ws, speech) -> tuple[dict, bytes]:
    """A correct control, speech, flush on a synchronous socket: the result and its WAV."""
    ws.send(json.dumps({"mode": "en->ru", "sample_rate": 48_000, "channels": 2}))
    pcm = to_pcm16(speech, 16_000)
    for offset in range(0, len(pcm), 3840):
        ws.send(pcm[offset : offset + 3840])
    ws.send(FLUSH)
    deadline = time.monotonic() + 30
    result = None
    while time.monotonic() < deadline:
        message = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        if isinstance(message, bytes):
            assert result is not None
            return result, message
        parsed = json.loads(message)
        assert parsed["type"] != "error", parsed
        if parsed["type"] == "result":
            result = parsed
    raise AssertionError("no result")


def test_the_fuzzed_socket_still_translates(control_socket, fuzz_stack):
    assert control_socket.tally["error"] >= 200 and control_socket.tally["configured"] >= 10
    result, wav = translate_sync(control_socket, speech_16k("Thank you very much.", "en"))
    assert result["text"].startswith("en->ru") and wav[:4] == b"RIFF"
    log = fuzz_stack.log_text("daphne")
    assert "Traceback" not in log and "Exception inside application" not in log, log[-3000:]
    print(f"\nschema fuzz over one socket: {control_socket.tally}")


async def test_oversized_frames_get_the_protocol_error_then_a_1009_close(fuzz_stack):
    conn = await open_connection(fuzz_stack)
    await conn.ws.send(json.dumps({"mode": "en->ru", "channels": 1}))
    await conn.wait(lambda m: m.get("state") == "configured", 1, 10)
    # Over MAX_FRAME_BYTES, within the server's limit: the protocol's error, the session goes on.
    await conn.ws.send(bytes(MAX_FRAME_BYTES + 2))
    await conn.wait(lambda m: "frame dropped" in m.get("error", ""), 1, 10)
    await conn.ws.send(json.dumps({"mode": "ru->en", "channels": 1}))
    await conn.wait(lambda m: m.get("state") == "configured", 2, 10)
    # Over the server's limit: refused by Daphne with a close frame, 1009 and its reason
    # (it once dropped the TCP connection: 1006, no reason).
    await conn.ws.send(bytes(SERVER_MAX_MESSAGE_BYTES + 2))
    await asyncio.wait_for(conn.reader, 10)
    close = conn.closed.rcvd
    assert close is not None and close.code == 1009, conn.closed
    assert "exceeds payload limit of 1048576" in close.reason
    assert fuzz_stack.procs["daphne"].poll() is None
    assert "Traceback" not in fuzz_stack.log_text("daphne")
