// @ts-check
// A small, always-on record of what the page did, for tests and for debugging in DevTools:
// window.rutrans.events is a list of {type, t, ...detail}; each is also a "rutrans" DOM event.
const hook = (window.rutrans ??= { events: [] });
hook.events ??= [];

export function emit(type, detail = {}) {
  const event = { type, t: Math.round(performance.now()), ...detail };
  hook.events.push(event);
  if (hook.events.length > 500) hook.events.splice(0, hook.events.length - 500);
  window.dispatchEvent(new CustomEvent("rutrans", { detail: event }));
  return event;
}

export function expose(name, value) {
  hook[name] = value;
}
