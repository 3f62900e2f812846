"""Where the engine's time goes: a py-spy raw profile summed by engine stage.

    .venv/bin/py-spy record --format raw -o /tmp/engine.prof --rate 250 -- \\
        .venv/bin/python bench/backfill.py --people 100000 --unlimited
    .venv/bin/python bench/profile_summary.py /tmp/engine.prof

py-spy samples every thread (the runner plans and records in worker threads, which cProfile
and pyinstrument do not see). Idle samples (waiting on sockets or locks) are left out; the
rest is split by the first engine stage found on each stack.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

STAGES = {  # the first found on a stack names its stage: the most specific come first
    "claim": "claim (crmsync/engine/outbox.py",
    "plan": "BatchRecorder._plan_chunk (",
    "record: rows to write": "BatchRecorder._outcome_rows (",
    "record: write them": "BatchRecorder._write_outcomes (",
    "transaction (begin, commit)": "Database.transaction (",
    "push (HTTP, JSON)": "Pump._push (",
    "lease renew": "Lease.renew (",
    "bulk job": "BulkJob._job (",
}
IDLE = ("select (selectors", "_worker (concurrent", "wait (threading", "Condition.wait")
SETUP = ("seed (", "connect (", "emulate", "_find_and_load", "machine_speed (")


def summarise(path: str, top: int) -> None:
    stages: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    with open(path, encoding="utf-8") as raw:
        lines = raw.read().splitlines()
    for line in lines:
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if any(marker in frames[-1] for marker in IDLE) or any(s in stack for s in SETUP):
            continue
        n = int(count)
        stage = next((name for name, key in STAGES.items() if key in stack), "other")
        stages[stage] += n
        leaves[re.sub(r":\d+\)", ")", frames[-1]) or "(native code)"] += n
    busy = sum(stages.values()) or 1
    print(f"{'stage':<22}{'share':>8}")
    for name, n in stages.most_common():
        print(f"{name:<22}{n / busy:>8.1%}")
    print(f"\n{'hottest functions (self time)':<70}{'share':>8}")
    for name, n in leaves.most_common(top):
        print(f"{name[:68]:<70}{n / busy:>8.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    summarise(args.profile, args.top)


if __name__ == "__main__":
    main()
