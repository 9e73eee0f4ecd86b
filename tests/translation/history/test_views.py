"""The staff-only history page: sessions with their utterances, players and export links."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

from django.core.files.base import ContentFile

from translation.models import Call, Translation


def test_history_page_is_for_staff_only(client, db, django_user_model):
    response = client.get("/history")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(django_user_model.objects.create_user("user", password="pw"))
    assert client.get("/history").status_code == 302


def test_history_lists_sessions_with_players_and_exports(admin_client, db):
    session = uuid.uuid4().hex
    row = Translation.objects.create(
        source="live",
        session_id=session,
        seq=0,
        status="done",
        src_lang="en",
        tgt_lang="ru",
        source_text="Good morning.",
        text="Доброе утро.",
        stream_start_s=1.2,
        stream_end_s=2.6,
    )
    row.input_audio.save("in.wav", ContentFile(b"RIFF"), save=False)
    row.output_audio.save("out.wav", ContentFile(b"RIFF"), save=True)
    Translation.objects.create(source="upload", status="done", text="not a session")

    response = admin_client.get("/history")
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('class="session card"') == 1
    assert (
        "Good morning." in page
        and "Доброе утро." in page
        and "1.2–2.6 s" in page
        and "EN → RU" in page
    )
    assert f'src="/history/{row.id}/input.wav"' in page
    assert f'src="/history/{row.id}/output.wav"' in page
    for fmt in ("srt", "vtt", "txt", "json"):
        assert f'href="/api/sessions/{session}/transcript?format={fmt}"' in page
    assert "not a session" not in page
    assert 'href="/history" aria-current="page"' in page


def test_history_shows_a_call_with_both_lanes_and_its_exports(admin_client, db):
    call = Call.objects.create(id="ab" * 16)
    for speaker, start, text in [("them", 3.0, "Good afternoon."), ("me", 0.5, "Здравствуйте.")]:
        Translation.objects.create(
            source="live",
            session_id=(speaker[0] * 32),
            seq=0,
            call=call,
            speaker=speaker,
            status="done",
            src_lang="en" if speaker == "me" else "ru",
            tgt_lang="ru" if speaker == "me" else "en",
            text=text,
            stream_start_s=start,
            stream_end_s=start + 1,
        )
    page = admin_client.get("/history").content.decode()
    assert f'data-call="{call.id}"' in page and "Call <code" in page
    card = page[page.index(f'data-call="{call.id}"') :]
    assert card.index("Здравствуйте.") < card.index("Good afternoon.")  # the call's clock
    assert card.index('data-speaker="me"') < card.index('data-speaker="them"')
    for fmt in ("srt", "vtt", "txt", "json"):
        assert f'href="/api/calls/{call.id}/transcript?format={fmt}"' in card
    # Its lanes' sessions are shown with the call, not again as live sessions.
    assert 'data-session="' + "m" * 32 not in page


def test_history_says_what_is_kept_and_staff_delete_a_session(admin_client, db, settings):
    settings.HISTORY_RETENTION_DAYS, settings.HISTORY_TEXT_RETENTION_DAYS = 30, 365
    session, other = uuid.uuid4().hex, uuid.uuid4().hex
    row = Translation.objects.create(source="live", session_id=session, seq=0, status="done")
    row.input_audio.save("in.wav", ContentFile(b"RIFF"), save=True)
    Translation.objects.create(source="live", session_id=other, seq=0, status="done")
    page = admin_client.get("/history").content.decode()
    assert "Kept: recordings 30 days, texts 365 days" in page
    until = (row.created_at + timedelta(days=30)).strftime("%Y-%m-%d")
    assert f"audio until {until}" in page
    assert page.count("Delete session") == 2

    path = row.input_audio.path
    response = admin_client.post(f"/history/sessions/{session}/delete")
    assert response.status_code == 302 and response["Location"] == "/history"
    assert list(Translation.objects.values_list("session_id", flat=True)) == [other]
    assert not os.path.exists(path)
    assert "Deleted session" in admin_client.get("/history").content.decode()
    assert admin_client.get(f"/history/sessions/{other}/delete").status_code == 405  # POST only


def test_only_staff_delete_sessions(client, db, django_user_model):
    session = uuid.uuid4().hex
    Translation.objects.create(source="live", session_id=session, seq=0, status="done")
    client.force_login(django_user_model.objects.create_user("user", password="pw"))
    assert client.post(f"/history/sessions/{session}/delete").status_code == 302  # to login
    assert Translation.objects.filter(session_id=session).exists()


def test_staff_delete_a_call_from_the_history_page(admin_client, db, settings):
    settings.HISTORY_RETENTION_DAYS, settings.HISTORY_TEXT_RETENTION_DAYS = 30, 365
    call, page_call = Call.objects.create(id="c" * 32), Call.objects.create(id="p" * 32)
    for speaker in ("me", "them"):
        row = Translation.objects.create(
            source="live", session_id=speaker[0] * 32, seq=0, call=call, speaker=speaker
        )
        row.input_audio.save(f"{speaker}.wav", ContentFile(b"RIFF"), save=True)
    Translation.objects.create(source="live", session_id="q" * 32, seq=0, call=page_call)
    path = row.input_audio.path
    page = admin_client.get("/history").content.decode()
    assert "Delete call" in page and "Delete session" in page  # a call; a live page
    until = (call.created_at + timedelta(days=30)).strftime("%Y-%m-%d")
    card = page[page.index(f'data-call="{call.id}"') :]
    assert f"audio until {until}" in card[: card.index("</li>")]

    response = admin_client.post(f"/history/calls/{call.id}/delete")
    assert response.status_code == 302 and response["Location"] == "/history"
    assert list(Call.objects.values_list("pk", flat=True)) == [page_call.pk]
    assert list(Translation.objects.values_list("call_id", flat=True)) == [page_call.pk]
    assert not os.path.exists(path)
    assert "Deleted call" in admin_client.get("/history").content.decode()
    assert admin_client.get(f"/history/calls/{page_call.id}/delete").status_code == 405


def test_only_staff_delete_calls(client, db, django_user_model):
    call = Call.objects.create(id="c" * 32)
    Translation.objects.create(source="live", session_id="m" * 32, seq=0, call=call)
    client.force_login(django_user_model.objects.create_user("user", password="pw"))
    assert client.post(f"/history/calls/{call.id}/delete").status_code == 302  # to login
    assert Translation.objects.filter(call=call).exists() and Call.objects.filter(pk=call.pk)
