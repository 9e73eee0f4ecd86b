"""The batcher's limits: what an operator may set."""

import pytest

from workers.batch_jobs import BatchLimits


def test_limits_are_checked():
    with pytest.raises(ValueError, match="BATCH_MAX=0"):
        BatchLimits(max_items=0, wait_s=0.0, max_audio_s=1.0)
    with pytest.raises(ValueError, match="BATCH_MAX_AUDIO_S=0"):
        BatchLimits(max_items=1, wait_s=0.0, max_audio_s=0.0)
