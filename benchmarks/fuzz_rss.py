"""Web memory across repeated fuzz runs (a script, not a test): does Daphne's RSS level off?

Starts the embedded Daphne (test-double engines, as tests/reliability/test_ws_fuzz.py does) once,
then repeats the fuzz of that test ROUNDS times on fresh connections (8 connections x 1,300
seeded-random malformed messages per round, then one real utterance on each), and records the
web process's RSS after warm-up and after each round.

    .venv/bin/python benchmarks/fuzz_rss.py --rounds 5 --json var/fuzz_rss.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.soak import rss_mb  # noqa: E402
from tests.doubles import DOUBLES_ENV  # noqa: E402
from tests.reliability.test_ws_fuzz import (  # noqa: E402
    CONNECTIONS,
    MAX_FRAME_BYTES,
    MESSAGES_PER_CONNECTION,
    SEED,
    fuzz_messages,
    open_connection,
    translate_valid_utterance,
)
from tests.speech import speech_16k  # noqa: E402
from tests.stack import NO_CLIENT_LIMITS, start_stack  # noqa: E402


async def fuzz_round(stack, speech, round_no: int) -> dict:
    conns = [await open_connection(stack) for _ in range(CONNECTIONS)]
    plans = [
        fuzz_messages(
            random.Random(SEED + 100 * round_no + i),
            MESSAGES_PER_CONNECTION,
            speech,
            configured=False,
        )
        for i in range(CONNECTIONS)
    ]
    started = time.monotonic()

    async def fuzz(conn, messages) -> None:
        for _, payload in messages:
            await conn.ws.send(payload)

    await asyncio.gather(*(fuzz(c, plan[0]) for c, plan in zip(conns, plans, strict=True)))
    for conn in conns:  # in order: once this is answered, the connection's fuzz was handled
        await translate_valid_utterance(conn, speech, timeout=120)
    closed = sum(1 for c in conns if c.closed is not None)
    for conn in conns:
        await conn.ws.close()
    return {
        "messages": sum(p[1].sent for p in plans),
        "s": round(time.monotonic() - started, 1),
        "closed_early": closed,
    }


async def main(rounds: int, settle_s: float, log_copy: Path | None = None) -> dict:
    speech = speech_16k("Thank you very much.", "en")
    env = {**DOUBLES_ENV, "MAX_FRAME_BYTES": str(MAX_FRAME_BYTES), "UTTERANCE_SILENCE_MS": "900"}
    with tempfile.TemporaryDirectory() as tmp:
        stack = start_stack(
            Path(tmp), database_url=None, redis_url=None, extra_env={**NO_CLIENT_LIMITS, **env}
        )
        try:
            pid = stack.procs["daphne"].pid
            rss_at_start = rss_mb(pid)  # models loaded, no session yet
            warm = [await open_connection(stack) for _ in range(CONNECTIONS)]
            for conn in warm:
                await translate_valid_utterance(conn, speech)
            for conn in warm:
                await conn.ws.close()
            await asyncio.sleep(settle_s)
            figures = {
                "rss_at_start_mb": rss_at_start,
                "rss_after_warmup_mb": rss_mb(pid),
                "rounds": [],
            }
            print(
                f"start: RSS {rss_at_start:.1f} MiB; after warm-up: "
                f"{figures['rss_after_warmup_mb']:.1f} MiB",
                flush=True,
            )
            for round_no in range(1, rounds + 1):
                result = await fuzz_round(stack, speech, round_no)
                await asyncio.sleep(settle_s)
                result["rss_mb"] = rss_mb(pid)
                figures["rounds"].append(result)
                print(f"round {round_no}: {result}", flush=True)
            log = stack.log_text("daphne")
            figures["tracebacks_in_log"] = log.count("Traceback")
            if log_copy is not None:
                log_copy.write_text(log)
        finally:
            stack.stop_all()
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--settle", type=float, default=3.0, help="pause before each RSS read (s)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--log", type=Path, help="keep a copy of the web log here")
    args = parser.parse_args()
    figures = asyncio.run(main(args.rounds, args.settle, args.log))
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
