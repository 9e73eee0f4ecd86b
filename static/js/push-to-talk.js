// Push-to-talk: when on, audio goes to the server only while Space or the Talk button is held
// (touch-and-hold on a phone), and letting go ends the utterance at once. The server's VAD still
// drops the silence inside a press. No protocol change: frames simply stop, then "__flush__".
//
// Events (`event.detail`): "press" {}, "release" {heldMs}.

const EDITABLE =
  'input[type="text"], input[type="search"], input:not([type]), textarea, select, [contenteditable]';

export class PushToTalk extends EventTarget {
  /**
   * @param {{button: HTMLButtonElement, isActive: () => boolean}} parts
   *   isActive: whether holding should do anything now (push-to-talk on and capture running).
   */
  constructor({ button, isActive }) {
    super();
    this.button = button;
    this.isActive = isActive;
    this.held = false;
    this._pressedAt = 0;
    this._pointer = null;

    button.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 || !this.isActive()) return;
      event.preventDefault();
      this._pointer = event.pointerId;
      button.setPointerCapture?.(event.pointerId);
      this.press();
    });
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
      button.addEventListener(type, (event) => {
        if (event.pointerId !== this._pointer) return;
        this._pointer = null;
        this.release();
      });
    }
    // A long touch would open the context menu (or select text) instead of talking.
    button.addEventListener("contextmenu", (event) => event.preventDefault());

    window.addEventListener("keydown", (event) => {
      if (event.code !== "Space" || !this.isActive() || event.target.closest?.(EDITABLE)) return;
      event.preventDefault(); // no page scroll, no click on a focused button
      if (!event.repeat) this.press();
    });
    window.addEventListener("keyup", (event) => {
      if (event.code !== "Space" || !this.held) return;
      event.preventDefault();
      this.release();
    });
    // Switching windows while holding: the keyup never comes, so let go here.
    window.addEventListener("blur", () => this.release());
  }

  /**
   * Show the Talk button when push-to-talk is `on` (usable only while `running`); the page's
   * body says which (`data-push-to-talk`), for its styles.
   * @param {boolean} on
   * @param {boolean} running
   */
  show(on, running) {
    this.button.hidden = !on;
    this.button.disabled = !running;
    document.body.dataset.pushToTalk = String(on);
  }

  /** Whether a captured frame may be sent now. */
  get open() {
    return !this.isActive() || this.held;
  }

  press() {
    if (this.held) return;
    this.held = true;
    this._pressedAt = performance.now();
    this.button.dataset.held = "true";
    this.button.setAttribute("aria-pressed", "true");
    this.dispatchEvent(new CustomEvent("press", { detail: {} }));
  }

  release() {
    if (!this.held) return;
    this.held = false;
    delete this.button.dataset.held;
    this.button.setAttribute("aria-pressed", "false");
    const heldMs = Math.round(performance.now() - this._pressedAt);
    this.dispatchEvent(new CustomEvent("release", { detail: { heldMs } }));
  }
}
