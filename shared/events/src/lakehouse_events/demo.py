"""What an event product's ``demo`` (``make run``) needs besides the pipeline itself.

- the ports the demo will bind (:func:`~lakehouse_platform.ports.taken_ports`), checked before
  the first step, so a taken API port is reported at once and not after the whole pipeline.
- :class:`DemoSeeds`: the seeds already sent per day. A generated day is a function of
  ``(day, size, seed)``, so sending the same seed twice repeats every message id and the second
  copy lands in quarantine as duplicates; without ``--seed`` the demo takes the next unused one.
- :func:`quarantine_by_rule`: the quarantine counted per failed rule, for the summary.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

from lakehouse_core.delta_reader import read_arrow
from lakehouse_core.errors import TableNotFoundError
from lakehouse_core.tables import TableSpec

FIRST_SEED = 7


class DemoSeeds:
    """The seeds sent per day, in a small JSON file under the state folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, list[int]]:
        if not self.path.is_file():
            return {}
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return {str(day): [int(s) for s in seeds] for day, seeds in data.items()}

    def sent(self, day: date) -> list[int]:
        return self._read().get(day.isoformat(), [])

    def next_unused(self, day: date) -> int:
        used = set(self.sent(day))
        seed = FIRST_SEED
        while seed in used:
            seed += 1
        return seed

    def record(self, day: date, seed: int) -> None:
        data = self._read()
        seeds = data.setdefault(day.isoformat(), [])
        if seed not in seeds:
            seeds.append(seed)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")


def quarantine_by_rule(quarantine: TableSpec, lake_root: str) -> Counter[str]:
    """Quarantined rows per failed rule (a row failing two rules counts under both)."""
    try:
        rules = read_arrow(quarantine.location(lake_root), columns=["failed_rules"]).column("failed_rules")
    except TableNotFoundError:
        return Counter()
    return Counter(rule for row in rules.to_pylist() for rule in row or ())
