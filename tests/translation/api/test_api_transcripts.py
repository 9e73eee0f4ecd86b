"""The transcript endpoints (a live session's, an upload job's) and the staff-only session list,
in-process against the real database: formats, access, the one error shape."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta

import pytest
import srt
import webvtt

from tests.translation.api.test_api import assert_error
from translation.models import Translation

SESSION = uuid.uuid4().hex


@pytest.fixture
def session_rows(db) -> list[Translation]:
    """A two-utterance live session, one utterance still queued, and another session."""
    rows = [
        Translation.objects.create(
            source="live",
            session_id=SESSION,
            seq=seq,
            status="done",
            src_lang="en",
            tgt_lang="ru",
            source_text=f"Sentence number {seq}.",
            text=f"Предложение номер {seq}.",
            stream_start_s=start,
            stream_end_s=end,
        )
        for seq, (start, end) in enumerate([(1.02, 3.5), (4.75, 7.0)])
    ]
    rows.append(
        Translation.objects.create(source="live", session_id=SESSION, seq=2, status="queued")
    )
    Translation.objects.create(
        source="live", session_id=uuid.uuid4().hex, seq=0, status="done", text="other"
    )
    return rows


def get_transcript(client, session_id: str, fmt: str | None):
    query = {"format": fmt} if fmt else {}
    return client.get(f"/api/sessions/{session_id}/transcript", query)


def test_session_srt_for_whoever_holds_the_id(client, session_rows):
    response = get_transcript(client, SESSION, "srt")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-subrip; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="transcript-{SESSION}.srt"'
    cues = list(srt.parse(response.content.decode()))
    assert [(c.start, c.end) for c in cues] == [
        (timedelta(seconds=1.02), timedelta(seconds=3.5)),
        (timedelta(seconds=4.75), timedelta(seconds=7)),
    ]
    assert cues[1].content == "Предложение номер 1.\n(en) Sentence number 1."


def test_session_vtt_txt_and_json(client, session_rows):
    vtt = get_transcript(client, SESSION, "vtt")
    assert vtt["Content-Type"] == "text/vtt; charset=utf-8"
    cues = webvtt.from_buffer(io.StringIO(vtt.content.decode()))
    assert [(c.start, c.end) for c in cues] == [
        ("00:00:01.020", "00:00:03.500"),
        ("00:00:04.750", "00:00:07.000"),
    ]
    text = get_transcript(client, SESSION, None)  # txt is the default
    assert text["Content-Type"] == "text/plain; charset=utf-8"
    assert "[00:00:04.750 - 00:00:07.000] EN -> RU" in text.content.decode()
    body = json.loads(get_transcript(client, SESSION, "json").content)
    assert [(u["seq"], u["direction"], u["start_s"]) for u in body["utterances"]] == [
        (0, "en->ru", 1.02),
        (1, "en->ru", 4.75),
    ]


def test_a_dashed_session_id_is_the_same_session(client, session_rows):
    response = get_transcript(client, str(uuid.UUID(SESSION)), "srt")
    assert response.status_code == 200 and len(list(srt.parse(response.content.decode()))) == 2


@pytest.mark.parametrize("session_id", [uuid.uuid4().hex, "not-a-session", "0" * 31, "%00"])
def test_unknown_or_malformed_session_is_404(client, session_rows, session_id):
    assert_error(get_transcript(client, session_id, "srt"), 404, "not_found")


def test_unknown_format_is_400(client, session_rows):
    error = assert_error(get_transcript(client, SESSION, "docx"), 400, "invalid_format")
    assert "srt, vtt, txt, json" in error["message"]


def test_an_upload_job_has_the_same_formats(client, db):
    job = Translation.objects.create(
        source="upload",
        status="done",
        src_lang="ru",
        tgt_lang="en",
        source_text="Привет",
        text="Hello",
        duration_s=2.5,
    )
    response = client.get(f"/api/translations/{job.id}/transcript", {"format": "srt"})
    assert response.status_code == 200
    (cue,) = srt.parse(response.content.decode())
    assert (cue.start, cue.end, cue.content) == (
        timedelta(0),
        timedelta(seconds=2.5),
        "Hello\n(ru) Привет",
    )
    vtt = client.get(f"/api/translations/{job.id}/transcript", {"format": "vtt"})
    assert vtt.content.decode().startswith("WEBVTT")
    queued = Translation.objects.create(source="upload")
    empty = client.get(f"/api/translations/{queued.id}/transcript", {"format": "json"})
    assert json.loads(empty.content)["utterances"] == []
    assert_error(client.get("/api/translations/nope/transcript"), 404, "not_found")


def test_listing_sessions_needs_staff(client, session_rows, django_user_model):
    assert_error(client.get("/api/sessions"), 403)
    user = django_user_model.objects.create_user("someone", password="pw")
    client.force_login(user)
    assert_error(client.get("/api/sessions"), 403)
    user.is_staff = True
    user.save()
    response = client.get("/api/sessions")
    assert response.status_code == 200
    listed = {item["id"]: item for item in response.json()["results"]}
    assert len(listed) == 2
    assert listed[SESSION]["utterances"] == 3
    assert listed[SESSION]["transcript_url"] == (
        f"http://testserver/api/sessions/{SESSION}/transcript"
    )
