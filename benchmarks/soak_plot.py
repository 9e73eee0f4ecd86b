"""The soak's samples as a PNG: one panel per metric over time, a line per process.

    .venv/bin/python benchmarks/soak_plot.py var/soak-30.json docs/soak-30.png 55   # [DPI]

(benchmarks/soak.py draws it itself with `--plot`; this redraws one from a saved report.)
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

PANELS = [
    ("rss_mb", "RSS (MB)"),
    ("fds", "open descriptors"),
    ("threads", "threads"),
]
LAGS = [
    ("client_ms", "client: flush → result"),
    ("queue_ms", "worker: queue_ms"),
    ("total_ms", "worker: total_ms"),
    ("loop_lag_ms", "web: loop_lag_ms"),
]


def _rolling_median(points: list[tuple[float, float]], bin_s: float) -> list[tuple[float, float]]:
    bins: dict[int, list[float]] = {}
    for t, v in points:
        bins.setdefault(int(t // bin_s), []).append(v)
    return [((k + 0.5) * bin_s / 60, statistics.median(vs)) for k, vs in sorted(bins.items())]


def plot(report: dict, path: Path, dpi: int = 70) -> Path:
    """Draws the report's `samples` and `lags` to `path` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["samples"]
    names = report["processes"]
    minutes = [r["t"] / 60 for r in rows]
    fig, axes = plt.subplots(7, 1, figsize=(10, 17), sharex=True)
    for ax, (field, label) in zip(axes, PANELS, strict=False):
        for name in names:
            ax.plot(minutes, [r.get(f"{name}_{field}") for r in rows], label=name, lw=1.2)
        ax.set_ylabel(label)
        ax.legend(loc="upper left", fontsize=8)
    ax = axes[3]
    ax.plot(minutes, [r.get("redis_used_mb") for r in rows], color="tab:red", lw=1.2)
    ax.set_ylabel("Redis used_memory (MB)")
    ax = axes[4]
    ax.plot(minutes, [r.get("pg_connections") for r in rows], color="tab:purple", lw=1.2)
    ax.set_ylabel("PostgreSQL connections")
    ax = axes[5]
    ax.plot(minutes, [r.get("open_sessions") for r in rows], color="tab:green", lw=1.2)
    ax.set_ylabel("open sessions")
    twin = ax.twinx()
    twin.plot(minutes, [r.get("sessions_opened") for r in rows], color="tab:gray", lw=1, ls="--")
    twin.set_ylabel("sessions opened (total, dashed)")
    ax = axes[6]
    bin_s = max(10.0, report["duration_s"] / 60)
    for key, label in LAGS:
        points = [(p["t"], p[key]) for p in report["lags"] if p.get(key) is not None]
        if points:
            ax.scatter([t / 60 for t, _ in points], [v for _, v in points], s=2, alpha=0.25)
            line = _rolling_median(points, bin_s)
            ax.plot([t for t, _ in line], [v for _, v in line], lw=1.2, label=label)
    ax.set_yscale("symlog", linthresh=100)
    ax.set_ylabel("lag (ms), median per bin")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_xlabel("minutes")
    idle = [r["t"] / 60 for r in rows if r.get("idle")]
    for ax in axes:
        for t in idle:
            ax.axvline(t, color="k", lw=0.6, ls=":")
        ax.grid(alpha=0.3)
    fig.suptitle(
        f"soak: {report['sessions']} talkers, {report['duration_s'] / 60:.0f} min, "
        f"{report.get('sessions_opened', 0)} sessions opened, engines {report.get('engines')} "
        "(dotted: no session open — start, after the warm-up, end)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


if __name__ == "__main__":
    dpi = int(sys.argv[3]) if len(sys.argv) > 3 else 70
    plot(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]), dpi)
