"""The lower bound of the RoPE base (Men et al., 2024) for d = 128: the published table beside
videorope's grid search and its exact (certified) sweep, with the time each took.

    python benchmarks/min_base.py --out benchmarks/results/min_base-cpu.json [--lengths 1024,2048]

Every value is verified by :func:`videorope.theory.min_base` (the condition holds at it and
fails just below). Rows are written as they finish, so a long run resumes.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from videorope.io import write_json
from videorope.theory import PUBLISHED_MIN_BASE, min_base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--lengths", default=",".join(map(str, PUBLISHED_MIN_BASE)))
    args = parser.parse_args()
    out = Path(args.out)
    data = json.loads(out.read_text()) if out.is_file() else {"machine": platform.processor() or platform.machine(),
                                                               "head_dim": 128, "rows": {}}  # fmt: skip
    for length in (int(n) for n in args.lengths.split(",")):
        if str(length) in data["rows"]:
            continue
        row = {"published": PUBLISHED_MIN_BASE.get(length)}
        for method in ("grid", "exact"):
            start = time.perf_counter()
            row[method] = min_base(128, length, method=method)
            row[f"{method}_seconds"] = round(time.perf_counter() - start, 2)
        data["rows"][str(length)] = row
        write_json(out, data)
        print(f"{length:>8}  published {row['published']:.2g}  grid {row['grid']:.5g}  exact {row['exact']:.5g}"
              f"  ({row['grid_seconds']} s, {row['exact_seconds']} s)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
