"""`python manage.py translate_file IN --mode en->ru -o OUT.wav`: translate a recording
in this process with the worker's pipeline (no queue, no database), for batch use."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from translation.audio.files import load_audio_16k
from translation.audio.pcm import AudioFormatError
from translation.audio.vad import NoSpeechFound, require_speech
from translation.audio.wav import wav_bytes_from_float32
from translation.constants import MODEL_SAMPLE_RATE, PIPER_VOICES, VOICES
from translation.protocol.control import MODES, ProtocolError, parse_control


class Command(BaseCommand):
    help = (
        "Translate an audio file (any format libsndfile reads) and write the spoken "
        "translation as a WAV; prints what was said and its translation."
    )

    def add_arguments(self, parser):
        parser.add_argument("input", help="the recording to translate")
        parser.add_argument(
            "--mode", default="auto", choices=list(MODES), help="direction (default: auto)"
        )
        parser.add_argument(
            "--voice",
            help=f"a voice of the target language (ru: {', '.join(VOICES['ru'])}; "
            f"en: en_0..en_117, {', '.join(PIPER_VOICES['en'])})",
        )
        parser.add_argument(
            "-o", "--output", required=True, help="where to write the translated WAV"
        )
        parser.add_argument(
            "--max-duration",
            type=float,
            default=None,
            help="refuse recordings longer than this many seconds (default: no limit)",
        )

    def handle(self, *args, **options):
        from workers import runtime  # the model code: imported only when the command runs
        from workers.engines.base import EngineError

        source = Path(options["input"])
        output = Path(options["output"])
        try:
            config = parse_control({"mode": options["mode"], "voice": options["voice"]})
        except ProtocolError as exc:
            raise CommandError(str(exc)) from exc
        if not output.parent.is_dir():
            raise CommandError(f"cannot write {output}: {output.parent} is not a directory")
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {source}: {exc.strerror or exc}") from exc
        try:
            audio = load_audio_16k(data, max_duration_s=options["max_duration"])
            seconds = len(audio) / MODEL_SAMPLE_RATE
            # As for uploads: no model call without speech; long silences left out.
            audio, _ = require_speech(
                audio,
                min_speech_ms=settings.UTTERANCE_MIN_SPEECH_MS,
                threshold=settings.VAD_THRESHOLD,
            )
        except (AudioFormatError, NoSpeechFound) as exc:
            raise CommandError(f"{source}: {exc}") from exc

        try:
            result = runtime.get_pipeline().run(
                audio, src=config.src, tgt=config.tgt, voices=dict(config.voices)
            )
        except EngineError as exc:
            raise CommandError(f"translation failed: {exc}") from exc
        except Exception as exc:  # a model crash: say what, exit non-zero
            raise CommandError(f"translation failed: {type(exc).__name__}: {exc}") from exc

        self.stdout.write(f"{result.src}->{result.tgt}, {seconds:.1f} s of audio")
        self.stdout.write(f"[{result.src}] {result.source_text or ''}")
        self.stdout.write(f"[{result.tgt}] {result.text}")
        timings = ", ".join(f"{name} {value:.0f} ms" for name, value in result.timings.items())
        self.stderr.write(f"timings: {timings}")
        if result.audio is None or not result.sample_rate:
            raise CommandError(f"no audio written: {result.tts_error or 'nothing to speak'}")
        output.write_bytes(wav_bytes_from_float32(result.audio, result.sample_rate))
        self.stdout.write(self.style.SUCCESS(f"wrote {output} ({result.sample_rate} Hz)"))
