// Unit tests for static/js/push-to-talk.js: what holding Space or the button lets through.
// Run: node --test tests/js/
import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";

// The module listens on `window`; a bare EventTarget stands in for it (and for the button).
globalThis.window = new EventTarget();
const { PushToTalk } = await import("../../static/js/push-to-talk.js");

class FakeButton extends EventTarget {
  dataset = {};
  attributes = {};
  setAttribute(name, value) {
    this.attributes[name] = value;
  }
  setPointerCapture() {}
}

function key(type, { code = "Space", repeat = false, target = null } = {}) {
  const event = new Event(type, { cancelable: true });
  Object.assign(event, { code, repeat });
  // What has focus (Event.target is a getter: shadow it as dispatching from that node would).
  Object.defineProperty(event, "target", { value: target ?? { closest: () => null } });
  window.dispatchEvent(event);
  return event;
}

function pointer(button, type, { pointerId = 1, which = 0 } = {}) {
  const event = new Event(type, { cancelable: true });
  Object.assign(event, { pointerId, button: which });
  button.dispatchEvent(event);
  return event;
}

describe("PushToTalk", () => {
  let button, ptt, active, log;
  beforeEach(() => {
    globalThis.window = new EventTarget();
    button = new FakeButton();
    active = true;
    ptt = new PushToTalk({ button, isActive: () => active });
    log = [];
    ptt.addEventListener("press", () => log.push("press"));
    ptt.addEventListener("release", ({ detail }) => log.push(["release", typeof detail.heldMs]));
  });

  it("sends only while Space is held, once per hold, and releases on keyup", () => {
    assert.equal(ptt.open, false);
    const down = key("keydown");
    assert.equal(down.defaultPrevented, true); // no scroll, no click on a focused button
    key("keydown", { repeat: true });
    assert.equal(ptt.open, true);
    assert.equal(button.dataset.held, "true");
    assert.equal(button.attributes["aria-pressed"], "true");
    key("keyup");
    assert.equal(ptt.open, false);
    assert.equal(button.dataset.held, undefined);
    assert.deepEqual(log, ["press", ["release", "number"]]);
  });

  it("lets everything through when push-to-talk is off or capture stopped", () => {
    active = false;
    assert.equal(ptt.open, true);
    const down = key("keydown");
    assert.equal(down.defaultPrevented, false); // Space keeps its usual meaning
    assert.deepEqual(log, []);
  });

  it("ignores Space typed into a form field and other keys", () => {
    key("keydown", { target: { closest: () => ({}) } });
    key("keydown", { code: "KeyA" });
    assert.deepEqual(log, []);
  });

  it("holds with the pointer (touch-and-hold) and lets go on pointerup or cancel", () => {
    pointer(button, "pointerdown");
    assert.equal(ptt.open, true);
    pointer(button, "pointerup", { pointerId: 2 }); // another finger: not this hold
    assert.equal(ptt.open, true);
    pointer(button, "pointercancel");
    assert.equal(ptt.open, false);
    pointer(button, "pointerdown", { which: 2 }); // a right click does not talk
    assert.deepEqual(log, ["press", ["release", "number"]]);
  });

  it("lets go when the window loses focus mid-hold", () => {
    key("keydown");
    window.dispatchEvent(new Event("blur"));
    assert.equal(ptt.held, false);
    assert.deepEqual(log, ["press", ["release", "number"]]);
  });
});
