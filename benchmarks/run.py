"""`make bench`: every benchmark, one after another, each suite in a process of its own (a
suite that leaves a big heap behind must not slow the next one's timings).

`python benchmarks/run.py [SUITE ...]` runs only the suites named.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

SUITES = ["bench_cron", "bench_scheduler", "bench_day", "bench_startup", "bench_bigfile",
          "bench_state", "bench_tui", "bench_control"]
HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    if argv[:1] == ["--suite"]:  # the child: one suite, in this process
        sys.path.insert(0, str(HERE))
        importlib.import_module(argv[1]).main()
        return 0
    names = argv or SUITES
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        print(f"unknown suite {', '.join(unknown)}; the suites are {', '.join(SUITES)}",
              file=sys.stderr)
        return 2
    for name in names:
        print(f"== {name} ==", flush=True)
        done = subprocess.run([sys.executable, __file__, "--suite", name], check=False)
        if done.returncode:
            return done.returncode
        print(flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
