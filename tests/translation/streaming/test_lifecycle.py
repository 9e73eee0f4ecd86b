"""A live session's lifecycle (translation/streaming/lifecycle.py): the phase table, and the
phases a /ws/translate session really goes through when it is refused for lack of room, over
its client's limit, closed, closed twice (disconnect and the consumer's end both close it) or
drained; each gives its places back exactly once."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator

from rutrans_site.asgi import application
from tests.translation.streaming.test_consumer import CONTROL, ORIGIN, connect
from translation.jobs import capacity
from translation.limits import quotas
from translation.streaming import lifecycle
from translation.streaming.lifecycle import TRANSITIONS, IllegalTransition, Phase

pytestmark = pytest.mark.timeout(60)

OPENED = [
    (Phase.OPENING, Phase.ADMITTED),
    (Phase.ADMITTED, Phase.LIVE),
    (Phase.LIVE, Phase.CLOSED),
]


def test_every_phase_can_close_and_closed_is_final():
    assert all(Phase.CLOSED in TRANSITIONS[p] for p in Phase if p is not Phase.CLOSED)
    assert TRANSITIONS[Phase.CLOSED] == frozenset()
    lifecycle.check(Phase.LIVE, Phase.DRAINING)
    for current, target in [
        (Phase.REFUSED, Phase.LIVE),  # a refused session never starts
        (Phase.OPENING, Phase.LIVE),  # nor one that holds no places
        (Phase.DRAINING, Phase.LIVE),  # a drain is not undone
        (Phase.CLOSED, Phase.CLOSED),  # closing is once
    ]:
        with pytest.raises(IllegalTransition, match=f"from '{current}' to '{target}'"):
            lifecycle.check(current, target)


@pytest.fixture
def moves(monkeypatch) -> list[tuple[Phase, Phase]]:
    """Every move any session makes, in order."""
    seen: list[tuple[Phase, Phase]] = []
    real = lifecycle.LiveSessionDrains.move

    def recorded(self, target: Phase) -> None:
        seen.append((self.phase, target))
        real(self, target)

    monkeypatch.setattr(lifecycle.LiveSessionDrains, "move", recorded)
    return seen


@pytest.fixture
def left(monkeypatch) -> list[str]:
    """The session ids given back to their client's live-session count."""
    seen: list[str] = []
    real = quotas.leave_live_session
    monkeypatch.setattr(
        quotas, "leave_live_session", lambda client, sid: (seen.append(sid), real(client, sid))
    )
    return seen


@pytest.mark.django_db(transaction=True)
async def test_a_session_opens_goes_live_and_closes_giving_its_places_back_once(moves, left):
    before = capacity.monitor.open_sessions
    comm = await connect(CONTROL)
    assert capacity.monitor.open_sessions == before + 1
    assert moves == OPENED[:2]
    await comm.disconnect()  # disconnect closes it; the consumer's end finds it closed
    assert moves == OPENED
    assert capacity.monitor.open_sessions == before and len(left) == 1


@pytest.mark.django_db(transaction=True)
async def test_a_session_refused_for_lack_of_room_holds_no_place(moves, left, monkeypatch):
    refusal = capacity.Refusal("translator full: test", retry_after_s=5)
    monkeypatch.setattr(capacity, "counted_refusal", lambda backlog: refusal)
    before = capacity.monitor.open_sessions
    comm = WebsocketCommunicator(application, "/ws/translate", headers=[ORIGIN])
    connected, _ = await comm.connect()
    assert connected  # accepted, so the page reads why
    assert (await comm.receive_json_from())["state"] == "refused"
    assert (await comm.receive_output())["code"] == 1013
    await comm.disconnect()
    assert moves == [(Phase.OPENING, Phase.REFUSED), (Phase.REFUSED, Phase.CLOSED)]
    assert capacity.monitor.open_sessions == before and left == []


@pytest.mark.django_db(transaction=True)
async def test_a_session_over_its_clients_limit_holds_no_place(moves, left, settings):
    settings.LIMIT_LIVE_SESSIONS = 1
    first = await connect(CONTROL)
    before = capacity.monitor.open_sessions
    comm = WebsocketCommunicator(application, "/ws/translate", headers=[ORIGIN])
    await comm.connect()
    assert (await comm.receive_json_from())["code"] == "live_sessions"
    await comm.disconnect()
    await first.disconnect()
    assert moves == [
        *OPENED[:2],
        (Phase.OPENING, Phase.REFUSED),
        (Phase.REFUSED, Phase.CLOSED),
        (Phase.LIVE, Phase.CLOSED),
    ]
    assert capacity.monitor.open_sessions == before - 1 and len(left) == 1


@pytest.mark.django_db(transaction=True)
async def test_a_draining_session_closes_from_draining(moves, settings):
    from translation.messaging import drain

    comm = await connect(CONTROL)
    [consumer] = list(drain.state.consumers)
    await consumer.drain(deadline=0.0)
    assert (await comm.receive_output())["code"] == drain.SERVICE_RESTART
    await comm.disconnect()
    assert moves == [*OPENED[:2], (Phase.LIVE, Phase.DRAINING), (Phase.DRAINING, Phase.CLOSED)]
