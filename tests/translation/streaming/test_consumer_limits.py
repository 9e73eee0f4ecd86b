"""/ws/translate and the limits per client: a session over LIMIT_LIVE_SESSIONS is accepted,
told why, and closed with 4429; an utterance over the audio quota is an error for its seq and
the session goes on; a session that keeps no audio writes no file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator

from rutrans_site.asgi import application
from tests.translation.streaming.test_consumer import CONTROL, ORIGIN, next_of_type, pcm16k
from translation.models import Translation
from translation.protocol.messages import CLIENT_LIMIT_CLOSE_CODE

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def communicator(ip: str, headers=()) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(application, "/ws/translate", headers=[ORIGIN, *headers])
    comm.scope["client"] = [ip, 40_000]  # what Daphne puts there: the peer's address
    return comm


async def open_session(ip: str, headers=()) -> WebsocketCommunicator:
    comm = communicator(ip, headers)
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_json_from())["state"] == "ready"
    return comm


async def assert_refused(comm: WebsocketCommunicator) -> dict:
    """Accepted (so the browser sees why), an error with the limit, then close 4429."""
    connected, _ = await comm.connect()
    assert connected
    error = await comm.receive_json_from()
    assert error["type"] == "error" and error["code"] == "live_sessions"
    assert error["retry_after_s"] >= 1
    assert error["error"].startswith("too many live sessions for this client")
    close = await comm.receive_output(5)
    assert close["type"] == "websocket.close" and close["code"] == CLIENT_LIMIT_CLOSE_CODE
    assert close["reason"].startswith("too many live sessions for this client")
    assert f"retry in {error['retry_after_s']} s" in close["reason"]
    return error


async def test_live_sessions_per_client_are_refused_with_4429_after_accept(settings):
    settings.LIMIT_LIVE_SESSIONS = 2
    settings.TRUSTED_PROXY_COUNT = 0
    first, second = await open_session("10.0.0.1"), await open_session("10.0.0.1")
    await assert_refused(communicator("10.0.0.1"))
    # Ignored without trusted proxies: the header does not make a new client.
    await assert_refused(communicator("10.0.0.1", [(b"x-forwarded-for", b"9.9.9.9")]))
    other = await open_session("10.0.0.2")
    await first.disconnect()
    third = await open_session("10.0.0.1")  # a place came free
    for comm in (second, other, third):
        await comm.disconnect()


async def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(settings):
    settings.LIMIT_LIVE_SESSIONS = 1
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "172.16.0.2"
    a = await open_session(proxy, [(b"x-forwarded-for", b"1.1.1.1")])
    b = await open_session(proxy, [(b"x-forwarded-for", b"2.2.2.2")])
    await assert_refused(communicator(proxy, [(b"x-forwarded-for", b"1.1.1.1")]))
    await a.disconnect()
    await b.disconnect()


async def test_an_utterance_over_the_audio_quota_is_an_error_and_the_session_goes_on(
    engines, speech, settings
):
    audio = speech.speech_16k("Good morning, everyone.", "en")
    settings.LIMIT_AUDIO_S_PER_HOUR = 3600
    comm = await open_session("10.0.0.3")
    await comm.send_to(text_data=json.dumps(CONTROL))
    assert (await comm.receive_json_from())["state"] == "configured"
    await comm.send_to(bytes_data=pcm16k(audio))
    await comm.send_to(text_data="__flush__")
    queued = await next_of_type(comm, "status")
    first = await Translation.objects.aget(pk=queued["id"])
    # What is left of the hour is less than another utterance like the first.
    settings.LIMIT_AUDIO_S_PER_HOUR = math.ceil(first.duration_s)
    await comm.send_to(bytes_data=pcm16k(audio))
    await comm.send_to(text_data="__flush__")
    result = await next_of_type(comm, "result")
    assert result["seq"] == 0 and result["text"].startswith("en->ru")
    error = await next_of_type(comm, "error")
    assert error["seq"] == 1 and error["code"] == "audio_seconds"
    assert error["retry_after_s"] >= 1 and "audio quota is used up" in error["error"]
    assert f"retry in {error['retry_after_s']} s" in error["error"]
    assert await Translation.objects.acount() == 1  # the refused utterance: nothing stored
    await comm.send_to(text_data=json.dumps(CONTROL))  # still open and answering
    assert (await next_of_type(comm, "status"))["state"] == "configured"
    await comm.disconnect()


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize("how", ["setting", "control"])
async def test_a_session_that_keeps_no_audio_writes_no_file(
    engines, speech, settings, tmp_path, how
):
    settings.MEDIA_ROOT = tmp_path / "media"
    control = dict(CONTROL)
    if how == "setting":
        settings.STORE_AUDIO = False
    else:
        control["store_audio"] = False
    comm = await open_session("10.0.0.4")
    await comm.send_to(text_data=json.dumps(control))
    configured = await comm.receive_json_from()
    assert configured["state"] == "configured" and configured["store_audio"] is False
    await comm.send_to(bytes_data=pcm16k(speech.speech_16k("Good morning, everyone.", "en")))
    await comm.send_to(text_data="__flush__")
    result = await next_of_type(comm, "result")
    assert isinstance(await comm.receive_from(10), bytes)  # the spoken translation
    end = json.loads(await comm.receive_from(10))
    assert end["type"] == "audio_end" and end["pieces"] == 1
    row = await Translation.objects.aget(pk=result["id"])
    assert (row.status, row.store_audio) == ("done", False)
    assert row.text == result["text"] and row.source_text.startswith("en speech")
    assert not row.input_audio and not row.output_audio
    assert files_under(settings.MEDIA_ROOT) == []
    await comm.disconnect()


async def test_by_default_a_session_keeps_its_audio(engines, speech, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    comm = await open_session("10.0.0.5")
    await comm.send_to(text_data=json.dumps(CONTROL))
    assert (await comm.receive_json_from())["store_audio"] is True
    await comm.send_to(bytes_data=pcm16k(speech.speech_16k("Good morning, everyone.", "en")))
    await comm.send_to(text_data="__flush__")
    result = await next_of_type(comm, "result")
    await next_of_type(comm, "audio_end")
    row = await Translation.objects.aget(pk=result["id"])
    assert row.store_audio and row.input_audio and row.output_audio
    assert row.client == "ip:10.0.0.5"
    assert len(files_under(settings.MEDIA_ROOT)) == 2
    await comm.disconnect()
