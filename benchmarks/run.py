"""`make bench`: every benchmark, one after another, in one process per suite."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

SUITES = ["bench_cron", "bench_scheduler", "bench_tui"]


def main() -> int:
    sys.path.insert(0, str(Path(__file__).parent))
    only = sys.argv[1:]
    for name in SUITES:
        if only and name not in only:
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue  # that suite does not exist yet
            raise
        print(f"== {name} ==")
        module.main()
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
