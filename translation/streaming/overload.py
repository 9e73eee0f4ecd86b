"""What a live session is told about the workers' backlog (translation/jobs/capacity.py
decides): when to send `busy` and `clear`, and the protocol's status message for each."""

from __future__ import annotations

from dataclasses import dataclass

from translation.jobs.capacity import Capacity, Refusal
from translation.jobs.selectors import NO_WORKER
from translation.protocol.messages import CapacityStatus


@dataclass
class OverloadNotices:
    """Per live session: which capacity statuses to send, and when (pure; the clock is passed
    in). `busy` when the lag goes over the limit, again every `repeat_s` while the lag has moved
    by a second or more, `clear` once it is back under."""

    repeat_s: float = 2.0
    _busy_since: float | None = None
    _told_at: float = 0.0
    _told_lag: float = 0.0

    def update(self, capacity: Capacity, now: float) -> str | None:
        """'busy', 'clear' or None (nothing to say now)."""
        if capacity.busy or capacity.no_worker:
            if self._busy_since is None:
                self._busy_since = now
            elif now - self._told_at < self.repeat_s or abs(capacity.lag_s - self._told_lag) < 1:
                return None
            self._told_at, self._told_lag = now, capacity.lag_s
            return "busy"
        if self._busy_since is not None and capacity.known:
            self._busy_since = None
            return "clear"
        return None


def status_for(state: str, capacity: Capacity, refusal: Refusal | None = None) -> CapacityStatus:
    """The protocol's status message for `state` ('busy', 'clear' or 'refused')."""
    if refusal is not None:
        message = refusal.reason
    elif state == "busy" and capacity.no_worker:
        message = f"waiting for a worker: {NO_WORKER}; every utterance is answered once one is back"
    elif state == "busy":
        message = (
            f"translations are {capacity.lag_s:.0f} s behind; every utterance is still "
            "answered, later than usual"
        )
    else:
        message = "the translators have caught up"
    return CapacityStatus(
        state=state,  # type: ignore[arg-type]
        lag_s=capacity.lag_s,
        queued=capacity.queued,
        captions_paused=capacity.shed_captions,
        retry_after_s=refusal.retry_after_s if refusal is not None else None,
        message=message,
    )
