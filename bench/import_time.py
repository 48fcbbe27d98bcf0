"""How long `import app` takes in a fresh interpreter: what a Lambda cold start pays
before its first request. Runs it `--runs` times (bytecode compiled first, as the
package ships it) and prints the fastest and the median, in milliseconds.

    .venv/bin/python bench/import_time.py --runs 20
"""

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
PROBE = "import time; t = time.perf_counter(); import app; print((time.perf_counter() - t) * 1000)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", "app.py", "chalicelib"], cwd=PROJECT, env=env, check=True)
    times = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", PROBE], cwd=PROJECT, env=env, capture_output=True, text=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    print(f"import app: fastest {min(times):.0f} ms, median {statistics.median(times):.0f} ms over {args.runs} runs")


if __name__ == "__main__":
    main()
