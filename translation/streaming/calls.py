"""Calls: a lane (one /ws/translate connection naming a call id and a speaker) joins its call,
and learns where its stream lies on the call's clock.

The call's clock starts when its first lane joins. A lane's utterances are stored with stream
times on that clock, so the two lanes interleave in one transcript; a lane that reconnects
continues after what it already said (its new connection's stream starts no earlier than the
end of its last utterance), so nothing of the earlier connection is lost or overlapped."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from translation.constants import Speaker
from translation.models import Call, Translation


@dataclass(frozen=True)
class CallLane:
    """One connection's place in a call."""

    call_id: str
    speaker: Speaker
    offset_s: float  # where this connection's stream time 0 lies on the call's clock
    floor_s: float = 0.0  # nothing of this lane is placed before it: its last utterance's end


def join_call(*, call_id: str, speaker: Speaker) -> CallLane:
    """Create the call on its first lane's arrival, or join it; returns the lane's offset:
    the time since the call began, never before the lane's last stored utterance ends."""
    with transaction.atomic():
        call, _ = Call.objects.get_or_create(id=call_id)
        elapsed_s = (timezone.now() - call.created_at).total_seconds()
        last_end_s = Translation.objects.filter(call=call, speaker=speaker).aggregate(
            end=Max("stream_end_s")
        )["end"]
    # Whole milliseconds, rounded up: never a hair before the last utterance's end.
    floor_s = math.ceil((last_end_s or 0.0) * 1000) / 1000
    offset_s = max(math.ceil(elapsed_s * 1000) / 1000, floor_s)
    return CallLane(call_id=call_id, speaker=speaker, offset_s=offset_s, floor_s=floor_s)


def placed(lane: CallLane | None, start_s: float, end_s: float) -> tuple[float, float]:
    """An utterance's stream times on its call's clock (the session's, without a call), to the
    millisecond (as every message and the history carry them). Audio captured before the
    stream's zero (the page's backlog while it connected) lies at negative stream times: it is
    moved no earlier than the call's start or the lane's floor."""
    offset_s, floor_s = (lane.offset_s, lane.floor_s) if lane is not None else (0.0, 0.0)
    shift_s = max(0.0, floor_s - (start_s + offset_s))
    return round(start_s + offset_s + shift_s, 3), round(end_s + offset_s + shift_s, 3)
