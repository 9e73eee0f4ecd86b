// Unit tests for static/js/ws-client.js: how a result's audio is followed (result JSON, WAV
// pieces, audio_end), over a fake WebSocket.
// Run: node --test tests/js/
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";

import { LiveSocket, backoffDelay } from "../../static/js/ws-client.js";

class FakeWebSocket {
  static OPEN = 1;
  static last = null;

  constructor(url) {
    this.url = url;
    this.readyState = FakeWebSocket.OPEN;
    this.sent = [];
    FakeWebSocket.last = this;
  }

  send(data) {
    this.sent.push(data);
  }

  close(code = 1000) {
    this.readyState = 3;
    this.onclose?.({ code });
  }

  receive(data) {
    this.onmessage({
      data: typeof data === "string" || data instanceof ArrayBuffer ? data : JSON.stringify(data),
    });
  }
}

function connected() {
  const socket = new LiveSocket({ url: "ws://test/ws/translate", control: () => ({ mode: "en->ru" }) });
  const seen = [];
  for (const type of ["result", "audio", "audio-end", "error", "notice"]) {
    socket.addEventListener(type, ({ detail }) => seen.push({ type, ...detail }));
  }
  socket.open();
  const ws = FakeWebSocket.last;
  ws.receive({ type: "status", state: "ready", session: "abc" });
  ws.receive({ type: "status", state: "configured" });
  return { socket, ws, seen };
}

const wav = (n) => new Uint8Array(n).buffer;

describe("LiveSocket audio pieces", () => {
  let saved;
  beforeEach(() => {
    saved = globalThis.WebSocket;
    globalThis.WebSocket = FakeWebSocket;
  });
  afterEach(() => {
    globalThis.WebSocket = saved;
  });

  it("emits the text at once, then each piece, then the end", () => {
    const { socket, ws, seen } = connected();
    assert.deepEqual(JSON.parse(ws.sent[0]), { mode: "en->ru" });
    ws.receive({ type: "result", seq: 0, text: "привет", tts_failed: false, timings: {} });
    ws.receive(wav(100));
    ws.receive(wav(200));
    ws.receive({ type: "audio_end", seq: 0, pieces: 2, timings: { tts_ms: 5 } });
    ws.receive({ type: "result", seq: 1, text: "", tts_failed: true, timings: {} });
    ws.receive({ type: "audio_end", seq: 1, pieces: 0, error: "nothing to speak" });
    assert.deepEqual(
      seen.map((e) => [e.type, e.seq ?? e.result?.seq, e.index ?? e.pieces ?? null]),
      [
        ["result", 0, null],
        ["audio", 0, 0],
        ["audio", 0, 1],
        ["audio-end", 0, 2],
        ["result", 1, null],
        ["audio-end", 1, 0],
      ],
    );
    assert.equal(seen[2].wav.byteLength, 200);
    assert.deepEqual(seen[3].timings, { tts_ms: 5 });
    assert.equal(seen[5].error, "nothing to speak");
    assert.ok(seen.every((e) => e.session === 1));
    socket.close();
  });

  it("ends a result's audio when the connection drops in the middle of it", () => {
    const { socket, ws, seen } = connected();
    ws.receive({ type: "result", seq: 4, text: "a", timings: {} });
    ws.receive(wav(10));
    ws.close();
    const end = seen.at(-1);
    assert.equal(end.type, "audio-end");
    assert.equal(end.seq, 4);
    assert.equal(end.pieces, 1);
    assert.match(end.error, /connection was lost/);
    socket.close();
  });

  it("waits the server's retry_after_s before reconnecting after a per-client limit", () => {
    const socket = new LiveSocket({ url: "ws://test/ws/translate", control: () => ({}) });
    const states = [];
    const errors = [];
    socket.addEventListener("state", ({ detail }) => states.push(detail));
    socket.addEventListener("error", ({ detail }) => errors.push(detail));
    socket.open();
    const ws = FakeWebSocket.last;
    ws.receive({
      type: "error",
      error: "too many live sessions for this client (2 open, at most 2); retry in 30 s",
      code: "live_sessions",
      retry_after_s: 30,
    });
    ws.close();
    assert.equal(errors[0].code, "live_sessions");
    const retrying = states.at(-1);
    assert.equal(retrying.state, "retrying");
    assert.equal(retrying.delayMs, 30_000);
    socket.close();
  });

  it("ignores audio without a result before it, saying so", () => {
    const { socket, ws, seen } = connected();
    ws.receive(wav(10));
    assert.deepEqual(
      seen.map((e) => e.type),
      ["notice"],
    );
    socket.close();
  });
});

describe("LiveSocket refused by a busy server", () => {
  let saved;
  beforeEach(() => {
    saved = globalThis.WebSocket;
    globalThis.WebSocket = FakeWebSocket;
  });
  afterEach(() => {
    globalThis.WebSocket = saved;
  });

  it("waits the server's retry_after_s before reconnecting after a 1013 close", () => {
    const socket = new LiveSocket({ url: "ws://test/ws/translate", control: () => ({}) });
    const states = [];
    socket.addEventListener("state", ({ detail }) => states.push(detail));
    socket.open();
    const ws = FakeWebSocket.last;
    ws.receive({ type: "status", state: "refused", lag_s: 9, queued: 30, retry_after_s: 40, message: "x" });
    ws.close(1013);
    const retrying = states.at(-1);
    assert.equal(retrying.state, "retrying");
    assert.equal(retrying.refused, true);
    assert.ok(retrying.delayMs >= 40000, retrying.delayMs);
    socket.close();
  });

  it("reconnects at once, its backoff reset, after a 1012 service restart", () => {
    const socket = new LiveSocket({ url: "ws://test/ws/translate", control: () => ({}) });
    const states = [];
    socket.addEventListener("state", ({ detail }) => states.push(detail));
    socket.open();
    socket._attempt = 3; // after a streak of failed attempts
    FakeWebSocket.last.close(1012);
    const retrying = states.at(-1);
    assert.equal(retrying.state, "retrying");
    assert.equal(retrying.restarting, true);
    assert.equal(retrying.refused, undefined);
    assert.ok(retrying.delayMs <= 600, retrying.delayMs); // the first attempt's delay again
    socket.close();
  });
});

describe("backoffDelay", () => {
  it("doubles up to the cap", () => {
    const fixed = { random: () => 0.5 };
    assert.equal(backoffDelay(0, fixed), 500);
    assert.equal(backoffDelay(3, fixed), 4000);
    assert.equal(backoffDelay(20, fixed), 15000);
  });
});
