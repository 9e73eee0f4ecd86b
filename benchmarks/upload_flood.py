"""One client floods the upload API (a script, not a test): how many uploads are taken, how
the rest are refused, and what the limits cost per request.

Starts the embedded server (test-double engines) twice, with the default per-client limits and
with them off (tests/stack.py NO_CLIENT_LIMITS), and sends N uploads of a 2 s recording from
one client, C at a time, as the issue's report did (60 anonymous uploads in 6.6 s, all 202).

    .venv/bin/python benchmarks/upload_flood.py --uploads 60 --concurrency 4
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.doubles import DOUBLES_ENV  # noqa: E402
from tests.speech import speech_like  # noqa: E402
from tests.stack import NO_CLIENT_LIMITS, start_stack  # noqa: E402


def recording() -> bytes:
    out = io.BytesIO()
    sf.write(out, speech_like(2.0, 16_000), 16_000, format="WAV")
    return out.getvalue()


def post(url: str, data: bytes) -> tuple[int, str | None, float]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="mode"\r\n\r\nen->ru\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, None, time.perf_counter() - started
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Retry-After"), time.perf_counter() - started


def flood(env: dict[str, str], uploads: int, concurrency: int) -> dict:
    data = recording()
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(Path(tmp), database_url=None, redis_url=None, extra_env=env)
        try:
            url = stack.http_url + "/api/translations"
            post(url, data)  # warm-up (first request imports and connects)
            started = time.perf_counter()
            with ThreadPoolExecutor(concurrency) as pool:
                answers = list(pool.map(lambda _: post(url, data), range(uploads)))
            elapsed = time.perf_counter() - started
        finally:
            stack.stop_all()
    accepted_ms = [ms * 1000 for code, _, ms in answers if code == 202]
    return {
        "codes": dict(Counter(code for code, _, _ in answers)),
        "retry_after_s": sorted({int(r) for _, r, _ in answers if r}),
        "elapsed_s": round(elapsed, 2),
        "accepted_median_ms": round(statistics.median(accepted_ms), 1) if accepted_ms else None,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    # The limited run's first request is the warm-up: it counts against the minute too.
    report = {
        "limits_off": flood({**DOUBLES_ENV, **NO_CLIENT_LIMITS}, args.uploads, args.concurrency),
        "default_limits": flood(dict(DOUBLES_ENV), args.uploads, args.concurrency),
    }
    print(json.dumps(report, indent=2))
