"""How steady is this machine's CPU?  Check before trusting a benchmark figure.

Runs the same pure-Python loop (about 8 ms of work) every 50 ms for a while,
pinned to one core, and prints its median time, how much slower the 90th
and 99th percentiles and the slowest run were, and a strip with one mark
per run: ``#`` for a run at least 30% slower than the median.

On the 2-core KVM guest of ``docs/benchmarks.md`` the strip shows long
stretches where the very same work takes 1.6-1.8 times as long, with
nothing else running in the guest: the host lends this guest less CPU at
times.  Every tick figure measured during such a stretch is inflated by the
same factor.

    python benchmarks/cpu_noise.py [SECONDS] [CORE]
"""

from __future__ import annotations

import os
import sys
import time

#: Iterations of the loop: about 8 ms of CPython 3.11 on the machine above.
WORK = 200_000
#: Pause between two runs, so the host sees a mostly idle guest, like a server between ticks.
PAUSE = 0.05
#: A run this much slower than the median gets a ``#`` in the strip.
SLOW = 1.3


def work() -> int:
    total = 0
    for i in range(WORK):
        total += i * i
    return total


def main(seconds: float, core: int) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    times: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
        time.sleep(PAUSE)
    ordered = sorted(times)
    median = ordered[len(ordered) // 2]

    def ratio(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / median

    print(
        f"{len(times)} runs on core {core}: median {median * 1000:.1f} ms; "
        f"p90 {ratio(0.9):.2f}x, p99 {ratio(0.99):.2f}x, slowest {ordered[-1] / median:.2f}x "
        "the median"
    )
    print("".join("#" if t > SLOW * median else "." for t in times))


if __name__ == "__main__":
    main(
        float(sys.argv[1]) if len(sys.argv) > 1 else 30.0,
        int(sys.argv[2]) if len(sys.argv) > 2 else 0,
    )
