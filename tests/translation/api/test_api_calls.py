"""A call's transcript (GET /api/calls/<call>/transcript): both lanes in time order on the
call's clock, each cue labelled with its speaker, in the four formats; the one error shape."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
import srt
import webvtt

from tests.translation.api.test_api import assert_error
from translation.models import Call, Translation

CALL = "c0ffee" + "0" * 26

# (speaker, seq within its lane, start, end, src, tgt, heard, translation) — the lanes' rows
# stored out of time order, as they arrive from two connections.
LANE_ROWS = [
    ("them", 0, 2.4, 4.0, "ru", "en", "Добрый день.", "Good afternoon."),
    ("me", 0, 0.5, 2.0, "en", "ru", "Hello there.", "Здравствуйте."),
    ("me", 1, 4.5, 6.25, "en", "ru", "How are you?", "Как дела?"),
    ("them", 1, 7.0, 8.5, "ru", "en", "Хорошо, спасибо.", "Fine, thanks."),
]


@pytest.fixture
def call_rows(db) -> list[Translation]:
    call = Call.objects.create(id=CALL)
    rows = [
        Translation.objects.create(
            source="live",
            session_id=("a" if speaker == "me" else "b") * 32,
            seq=seq,
            call=call,
            speaker=speaker,
            status="done",
            src_lang=src,
            tgt_lang=tgt,
            source_text=heard,
            text=text,
            stream_start_s=start,
            stream_end_s=end,
        )
        for speaker, seq, start, end, src, tgt, heard, text in LANE_ROWS
    ]
    # Not in the transcript: a lane's utterance still on its way, and another call's.
    Translation.objects.create(source="live", call=call, speaker="me", seq=2, status="queued")
    other = Call.objects.create(id="f" * 32)
    Translation.objects.create(
        source="live", call=other, speaker="me", status="done", text="other", stream_start_s=1
    )
    return rows


def get_transcript(client, call_id: str, fmt: str):
    return client.get(f"/api/calls/{call_id}/transcript", {"format": fmt})


def test_srt_has_both_lanes_in_time_order_with_me_and_them(client, call_rows):
    response = get_transcript(client, CALL, "srt")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-subrip; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="call-{CALL}.srt"'
    cues = list(srt.parse(response.content.decode()))
    assert len(cues) == 4
    assert [c.start for c in cues] == [timedelta(seconds=s) for s in (0.5, 2.4, 4.5, 7.0)]
    assert [c.content.split(": ")[0] for c in cues] == ["Me", "Them", "Me", "Them"]
    assert cues[1].content == "Them: Good afternoon.\n(ru) Добрый день."


def test_vtt_has_voice_tags(client, call_rows):
    response = get_transcript(client, CALL, "vtt")
    assert response["Content-Type"] == "text/vtt; charset=utf-8"
    captions = webvtt.from_buffer(io.StringIO(response.content.decode())).captions
    assert len(captions) == 4
    assert [c.voice for c in captions] == ["me", "them", "me", "them"]
    assert [c.start for c in captions] == [
        "00:00:00.500",
        "00:00:02.400",
        "00:00:04.500",
        "00:00:07.000",
    ]
    assert [c.identifier for c in captions] == ["1", "2", "3", "4"]  # unique across lanes
    assert captions[2].text == "Как дела?\n(en) How are you?"


def test_text_and_json(client, call_rows):
    text = get_transcript(client, CALL, "txt").content.decode()
    assert text.startswith(f"rutrans call {CALL}\n")
    assert "[00:00:00.500 - 00:00:02.000] Me: EN -> RU" in text
    assert "[00:00:07.000 - 00:00:08.500] Them: RU -> EN" in text
    assert text.index("Me: EN") < text.index("Them: RU")
    body = json.loads(get_transcript(client, CALL, "json").content)
    assert body["title"] == f"rutrans call {CALL}"
    first = body["utterances"][0]
    assert {"speaker", "src", "tgt", "source_text", "text", "start_s", "end_s"} <= first.keys()
    assert [
        (u["speaker"], u["src"], u["tgt"], u["start_s"], u["end_s"]) for u in body["utterances"]
    ] == [
        ("me", "en", "ru", 0.5, 2.0),
        ("them", "ru", "en", 2.4, 4.0),
        ("me", "en", "ru", 4.5, 6.25),
        ("them", "ru", "en", 7.0, 8.5),
    ]
    assert body["utterances"][3]["source_text"] == "Хорошо, спасибо."


@pytest.mark.parametrize(
    "call_id",
    ["0" * 32, "c0ffee", CALL.upper(), CALL + "0", "g" * 32, "not-a-call", "%00", "1" * 200],
)
def test_unknown_or_malformed_call_is_404_in_the_apis_shape(client, call_rows, call_id):
    assert_error(get_transcript(client, call_id, "srt"), 404, "not_found")


def test_unknown_format_is_400(client, call_rows):
    assert_error(get_transcript(client, CALL, "docx"), 400, "invalid_format")


def test_a_lanes_session_transcript_covers_all_its_connections(client, call_rows, db):
    # The "me" lane reconnected: its second connection has another session id.
    Translation.objects.create(
        source="live",
        session_id="c" * 32,
        seq=0,
        call_id=CALL,
        speaker="me",
        status="done",
        src_lang="en",
        tgt_lang="ru",
        text="После переподключения.",
        stream_start_s=9.0,
        stream_end_s=10.0,
    )
    for session in ("a" * 32, "c" * 32):
        response = client.get(f"/api/sessions/{session}/transcript", {"format": "json"})
        utterances = json.loads(response.content)["utterances"]
        assert [u["start_s"] for u in utterances] == [0.5, 4.5, 9.0]  # the lane only, in order


def test_the_call_transcript_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema", {"format": "json"}).json()
    operation = schema["paths"]["/api/calls/{call_id}/transcript"]["get"]
    assert operation["operationId"] == "calls_transcript"
    assert {"200", "404"} <= operation["responses"].keys()
    (path_param,) = [p for p in operation["parameters"] if p["in"] == "path"]
    assert path_param["schema"]["pattern"] == "^[0-9a-f]{32}$"


def test_a_lanes_session_transcript_has_no_speaker_labels(client, call_rows):
    body = client.get(f"/api/sessions/{'a' * 32}/transcript", {"format": "srt"}).content.decode()
    assert [c.content.splitlines()[0] for c in srt.parse(body)] == ["Здравствуйте.", "Как дела?"]
