"""Cold-start benchmark: how long `ragmon --help` and a model-free command take to start.

Prints the median wall time of each over several runs, next to a bare `python -c pass`
measured in the same run as the reference, and checks that neither imports torch.
Target: `ragmon --help` under 1.0 s.

    python bench/cold_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBE = """
import sys
from jobs.cli import cli
try:
    cli({args!r}, prog_name="ragmon", standalone_mode=False)
finally:
    heavy = sorted(m for m in ("torch", "sentence_transformers", "chromadb", "evidently")
                   if m in sys.modules)
    print("HEAVY=" + ",".join(heavy), file=sys.stderr)
"""


def timed(argv: list[str], runs: int, cwd: Path) -> tuple[float, str]:
    times, heavy = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode not in (0, 1):
            raise SystemExit(f"{argv} failed: {done.stderr}")
        heavy = next(
            (line[6:] for line in done.stderr.splitlines() if line.startswith("HEAVY=")), heavy
        )
    return statistics.median(times), heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "docs").mkdir()
        (work / "ragmon.toml").write_text('[store]\npath = "chroma"\n[sources]\nroot = "docs"\n')
        py = sys.executable
        reference, _ = timed([py, "-c", "pass"], args.runs, work)
        rows = [("python -c pass (reference)", reference, "-")]
        for label, cli_args in [("ragmon --help", ["--help"]), ("ragmon status", ["status"])]:
            seconds, heavy = timed([py, "-c", PROBE.format(args=cli_args)], args.runs, work)
            rows.append((label, seconds, heavy or "none"))
    print(f"{'command':<30} {'median s':>9}  heavy modules imported")
    for label, seconds, heavy in rows:
        print(f"{label:<30} {seconds:>9.3f}  {heavy}")
    help_time = rows[1][1]
    ok = help_time < 1.0 and all("torch" not in r[2] for r in rows[1:])
    print(f"\ntarget: ragmon --help < 1.0 s and no torch -> {'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
