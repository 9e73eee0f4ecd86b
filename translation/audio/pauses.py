"""How much silence ends an utterance in continuous speech.

Continuous speech (a lecture, a video) rarely pauses `silence_ms`: the silence demanded
shrinks as the open utterance grows, so a narrator's 0.2-0.6 s breaths between sentences end
utterances once they have gone on for a few seconds, while a short sentence's comma pause
does not (translation/audio/segmenter.py applies it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PauseSchedule:
    """How much silence ends an utterance, by how much speech it holds already.

    Up to `shrink_after_s` of speech the full `silence_ms` is demanded; over the next
    `shrink_over_s` the demand falls linearly to `min_silence_ms`, and stays there. With
    `min_silence_ms == silence_ms` it is the plain silence rule.
    """

    silence_ms: float = 900
    min_silence_ms: float = 200
    shrink_after_s: float = 1.5
    shrink_over_s: float = 1.5

    def __post_init__(self) -> None:
        if not 0 < self.min_silence_ms <= self.silence_ms:
            raise ValueError(f"min_silence_ms ({self.min_silence_ms}) must be in (0, silence_ms]")
        if self.shrink_after_s < 0 or self.shrink_over_s <= 0:
            raise ValueError("shrink_after_s must be >= 0 and shrink_over_s > 0")

    def silence_ms_after(self, speech_s: float) -> float:
        """The silence (ms) that ends an utterance whose speech has lasted `speech_s`."""
        progress = min(1.0, max(0.0, (speech_s - self.shrink_after_s) / self.shrink_over_s))
        return self.silence_ms - progress * (self.silence_ms - self.min_silence_ms)
