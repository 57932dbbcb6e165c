"""Run every benchmark, each in its own process (its own broker and JVMs), then write the report.

``make bench`` runs this. ``python tests/performance/run_benchmarks.py raw serving`` runs only
the benchmarks whose names start with the words given. A failed benchmark does not stop the
others; the exit status says whether all succeeded, and the report shows what was measured.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from report import write_report

HERE = Path(__file__).parent
PRODUCT_NAMES = ("web-user-analytics", "mobile-user-analytics")
BENCHMARKS: list[tuple[str, list[str]]] = [
    ("raw", ["bench_raw.py"]),
    *((f"ingestion {p}", ["bench_ingestion.py", p]) for p in PRODUCT_NAMES),
    *((f"refinement {p}", ["bench_refinement.py", p]) for p in PRODUCT_NAMES),
    *((f"serving {p}", ["bench_serving.py", p]) for p in PRODUCT_NAMES),
    ("gateway", ["bench_gateway.py"]),
]


def main(selected: list[str]) -> int:
    failed: list[str] = []
    for name, command in BENCHMARKS:
        if selected and not any(name.startswith(word) for word in selected):
            continue
        print(f"── {name}", flush=True)
        started = time.monotonic()
        done = subprocess.run([sys.executable, str(HERE / command[0]), *command[1:]], check=False)
        print(
            f"── {name}: {'ok' if done.returncode == 0 else 'FAILED'} in {time.monotonic() - started:.0f} s"
        )
        if done.returncode != 0:
            failed.append(name)
    print(f"report: {write_report()}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
