"""The engines a pipeline sees when the batcher owns the models: each call becomes a job on
the process's one model thread (`workers/batcher.py`). Built per utterance
(`runtime.get_pipeline`)."""

from __future__ import annotations

import numpy as np

from workers.batcher import Batcher
from workers.batching import Lane
from workers.engines.base import Lang, Speech, SpeechTranslation, TranslationRequest


class BatchedTranslator:
    """The `SpeechTranslator` a pipeline uses: each call goes through the batcher in `lane`."""

    def __init__(self, batcher: Batcher, *, lane: Lane, arrival: float) -> None:
        self.batcher, self.lane, self.arrival = batcher, lane, arrival

    def translate(
        self, audio: np.ndarray, *, src: Lang, tgt: Lang, with_source_text: bool = True
    ) -> SpeechTranslation:
        request = TranslationRequest(audio, src, tgt, with_source_text)
        return self.batcher.translate(request, lane=self.lane, arrival=self.arrival)


class BatchedSynthesizer:
    """The `SpeechSynthesizer` of ONE utterance's pipeline: its n-th call is the utterance's
    n-th sentence (the pipeline speaks them in order), which sets its place in the queue."""

    def __init__(self, batcher: Batcher, *, arrival: float) -> None:
        self.batcher, self.arrival = batcher, arrival
        self._spoken = 0

    def synthesize(self, text: str, *, lang: Lang, voice: str | None = None) -> Speech:
        sentence, self._spoken = self._spoken, self._spoken + 1
        return self.batcher.speak(
            text, lang=lang, voice=voice, sentence=sentence, arrival=self.arrival
        )
