"""bench/soak.py's verdict: each CRM's own data and every operation row checked, the figures
printed, 0 when nothing was lost, duplicated or left wrong (and faults were injected)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, text

if TYPE_CHECKING:
    from bench.soak import Emulator

UNSETTLED = ("pending", "retrying", "waiting_reconnect", "failed")
SHOWN = (*UNSETTLED, "skipped")  # nobody deletes in a soak: a skip is worth reading too


def verify(
    orgs: dict[str, Emulator],
    version: dict[int, int],
    injected: dict[str, dict[str, int]],
    kills: int,
    timing: dict[str, float],
    logs: Path,
    db: Any,
) -> int:
    """Every unlocked person exactly once in each CRM (``orgs``), with the title of its last
    ``version`` and the org's owner; no operation unsettled, no work item left."""
    missing = duplicates = wrong = unsettled = 0
    examples: list[str] = []
    for emulator in orgs.values():
        found: dict[str, list[dict[str, Any]]] = {}
        for record in emulator.records():
            if record["person_id"]:
                found.setdefault(record["person_id"], []).append(record)
        for i, v in version.items():
            records = found.get(f"p{i:06d}", [])
            missing += not records
            duplicates += max(0, len(records) - 1)
            if records and (
                records[0]["title"] != f"Title v{v}" or records[0]["owner_id"] != emulator.owner_id
            ):
                wrong += 1
                examples.append(
                    f"{emulator.provider} p{i:06d}: title {records[0]['title']!r} "
                    f"(want 'Title v{v}'), owner {records[0]['owner_id']!r} "
                    f"(want {emulator.owner_id!r})"
                )
    # Every operation row, from the database: each one settled, none left behind.
    operations: Counter[str] = Counter()
    with db.connect() as conn:
        for status, count in conn.execute(
            text("SELECT status, count(*) FROM operations GROUP BY status")
        ):
            operations[status] = count
        unsettled = sum(operations[status] for status in UNSETTLED)
        for row in conn.execute(
            text(
                "SELECT org_id, id, local_id, status, attempts, reason FROM operations "
                "WHERE status IN :statuses ORDER BY id LIMIT 10"
            ).bindparams(bindparam("statuses", value=list(SHOWN), expanding=True)),
        ):
            examples.append(
                f"{row.org_id} op {row.id} {row.local_id} {row.status} after "
                f"{row.attempts} attempts: {row.reason[:140]}"
            )
        work = dict(
            conn.execute(text("SELECT status, count(*) FROM work_items GROUP BY status")).all()
        )
    left = sum(count for status, count in work.items() if status != "done")
    faults = Counter[str]()
    for counts in injected.values():
        faults.update(counts)
    crms = ", ".join(sorted(o.provider for o in orgs.values()))
    expected = len(version) * len(orgs)
    elapsed = timing["elapsed"]
    rows = [
        ("people", f"{len(version)} in each of {len(orgs)} CRMs ({crms})"),
        ("refreshes sent", f"{timing['refreshes']:.0f} (to every CRM that unlocked them)"),
        ("seeded in", f"{timing['seed']:.1f} s (PUT /api/v1/people)"),
        ("unlocks sent in", f"{timing['sent']:.1f} s"),
        ("elapsed", f"{elapsed:.1f} s (first unlock to everything settled)"),
        (
            "settled after",
            ", ".join(f"{e.provider} {timing[f'settled {org}']:.0f} s" for org, e in orgs.items()),
        ),
        ("records/s", f"{expected / elapsed:.1f} ({expected} records)"),
        (
            "writes/s",
            f"{operations['inserted'] + operations['updated']:.0f} writes, "
            f"{(operations['inserted'] + operations['updated']) / elapsed:.1f}/s",
        ),
        ("faults injected", json.dumps(dict(sorted(faults.items())))),
        ("faults on for", f"{timing['faulted']:.0f} s"),
        ("worker kills", str(kills)),
        ("reconnects", "1"),
        ("operations", json.dumps(dict(sorted(operations.items())))),
        ("work items", json.dumps(dict(sorted(work.items())))),
        ("missing", str(missing)),
        ("duplicates", str(duplicates)),
        ("wrong values", str(wrong)),
        ("unsettled or failed ops", str(unsettled)),
        ("work left", str(left)),
        ("logs", str(logs)),
    ]
    for name, value in rows:
        print(f"{name:<26}{value}")
    for example in examples[:10]:
        print(f"  wrong: {example}")
    ok = not (missing or duplicates or wrong or unsettled or left) and sum(faults.values()) > 0
    print("RESULT", "ok" if ok else "LOSS, DUPLICATE OR WRONG VALUE")
    return 0 if ok else 1
