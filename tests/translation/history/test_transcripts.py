"""Transcript formatting: SRT and WebVTT that real subtitle parsers read back with the stream
times, plain text and JSON with every field."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
import srt
import webvtt

from translation.history import transcripts
from translation.history.transcripts import Cue, cues_from_rows, render
from translation.models import Translation


def live_row(seq: int, start: float | None, end: float | None, **fields) -> Translation:
    values = {
        "source": Translation.Source.LIVE,
        "session_id": "a" * 32,
        "seq": seq,
        "status": Translation.Status.DONE,
        "requested_src": "auto",
        "src_lang": "en",
        "tgt_lang": "ru",
        "source_text": f"sentence {seq}",
        "text": f"предложение {seq}",
        "stream_start_s": start,
        "stream_end_s": end,
    }
    values.update(fields)
    return Translation(**values)


CUES = [
    Cue(0, 1.25, 3.5, "en", "ru", "Hello there.", "Привет."),
    Cue(1, 4.0, 3725.042, "ru", "en", "Как дела?", "How are you?"),
]


def test_srt_parses_with_the_stream_times():
    parsed = list(srt.parse(render(CUES, "srt", title="t")))
    assert [(c.index, c.start, c.end) for c in parsed] == [
        (1, timedelta(seconds=1.25), timedelta(seconds=3.5)),
        (2, timedelta(seconds=4), timedelta(seconds=3725.042)),
    ]
    assert parsed[0].content == "Привет.\n(en) Hello there."
    assert parsed[1].content == "How are you?\n(ru) Как дела?"


def test_vtt_parses_with_the_stream_times():
    parsed = webvtt.from_buffer(io.StringIO(render(CUES, "vtt", title="t")))
    assert [(c.identifier, c.start, c.end) for c in parsed] == [
        ("0", "00:00:01.250", "00:00:03.500"),
        ("1", "00:00:04.000", "01:02:05.042"),
    ]
    assert parsed[0].text == "Привет.\n(en) Hello there."


def test_text_and_json_carry_direction_and_both_texts():
    text = render(CUES, "txt", title="Session x")
    assert text.splitlines()[:6] == [
        "Session x",
        "",
        "[00:00:01.250 - 00:00:03.500] EN -> RU",
        "en: Hello there.",
        "ru: Привет.",
        "",
    ]
    body = json.loads(render(CUES, "json", title="Session x"))
    assert body["title"] == "Session x"
    assert body["utterances"][1] == {
        "seq": 1,
        "start_s": 4.0,
        "end_s": 3725.042,
        "src": "ru",
        "tgt": "en",
        "source_text": "Как дела?",
        "text": "How are you?",
        "direction": "ru->en",
    }


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown transcript format 'doc'"):
        render(CUES, "doc", title="t")
    assert set(transcripts.FORMATS) == {"srt", "vtt", "txt", "json"}


def test_rows_become_cues_in_stream_order_without_unfinished_or_empty_ones():
    rows = [
        live_row(2, 6.0, 7.5),
        live_row(0, 0.5, 2.0),
        live_row(1, 2.5, 4.0, status=Translation.Status.QUEUED, text="", source_text=""),
        live_row(3, 8.0, 9.0, status=Translation.Status.FAILED, text="", error="boom"),
        live_row(4, 9.5, 10.0, text="", source_text=""),  # nothing recognised
    ]
    cues = cues_from_rows(rows)
    assert [(c.seq, c.start_s, c.end_s) for c in cues] == [(0, 0.5, 2.0), (2, 6.0, 7.5)]


def test_cue_text_cannot_break_the_format():
    row = live_row(0, 1.0, 1.0, source_text="one\n\ntwo --> three", text="  a\r\nb ")
    (cue,) = cues_from_rows([row])
    assert (cue.source_text, cue.text) == ("one two -> three", "a b")
    assert cue.end_s > cue.start_s  # a zero-length cue still parses
    (parsed,) = srt.parse(render([cue], "srt", title="t"))
    assert parsed.content == "a b\n(en) one two -> three"


def test_an_upload_is_one_cue_over_its_duration():
    row = Translation(
        source=Translation.Source.UPLOAD,
        status=Translation.Status.DONE,
        src_lang="ru",
        tgt_lang="en",
        source_text="Привет",
        text="Hello",
        duration_s=2.75,
    )
    assert cues_from_rows([row]) == [Cue(0, 0.0, 2.75, "ru", "en", "Привет", "Hello")]
