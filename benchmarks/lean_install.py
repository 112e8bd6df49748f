"""Installed size and agent start-up of the two installs: bare `avfleet` (the Pi's) and `avfleet[controller]`.

For each install: a fresh virtual environment from the system Python, `pip install` of this source
tree (copied first without .git and virtual environments, as a user's checkout would be), then
`du` of site-packages (also without pip and setuptools, which every venv brings) and the wall time
of `avfleet agent --check-config firmware_configs/agents/minimal.yaml`: one warm-up run, then the
median of `--runs` runs. The bare install must not contain the controller's packages; the script
checks that and fails otherwise.

    .venv/bin/python benchmarks/lean_install.py [--runs 5] [--keep DIR]

pip reads the package index configured on the machine; nothing else is fetched.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = "firmware_configs/agents/minimal.yaml"
CONTROLLER_DISTS = ("fastapi", "uvicorn", "sqlalchemy", "sqlmodel", "alembic", "psycopg", "amqtt")
SKIP = (".git", ".venv", ".venv-snmpsim", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis")


def du_kib(path: Path) -> int:
    return int(subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def install(venv: Path, spec: str) -> list[str]:
    # From inside a venv too, `-m venv` builds on the base interpreter: the new venv sees none of ours.
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", spec], check=True, timeout=1200)
    listed = subprocess.run([str(venv / "bin" / "pip"), "list", "--format=freeze"], capture_output=True, text=True,
                            check=True).stdout
    return sorted(line.split("==")[0].lower() for line in listed.splitlines() if "==" in line)


def startup_s(venv: Path, runs: int) -> float:
    command = [str(venv / "bin" / "avfleet"), "agent", "--check-config", CONFIG]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)  # warm-up: page cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the venvs here and keep them")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="avfleet-lean-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        source = work / "src"
        shutil.rmtree(source, ignore_errors=True)
        shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*SKIP))
        figures = {}
        for name, spec in (("bare", str(source)), ("controller", f"{source}[controller]")):
            venv = work / name
            shutil.rmtree(venv, ignore_errors=True)
            dists = install(venv, spec)
            sp = site_packages(venv)
            tooling = sum(du_kib(p) for p in sp.iterdir() if p.name.split("-")[0] in ("pip", "setuptools",
                                                                                      "_distutils_hack",
                                                                                      "pkg_resources"))
            heavy = [d for d in dists if d.replace("-", "_").split("[")[0] in CONTROLLER_DISTS]
            if name == "bare" and heavy:
                raise SystemExit(f"the bare install pulled controller packages: {heavy}")
            total = du_kib(sp)
            figures[name] = (len(dists), total, total - tooling, startup_s(venv, args.runs))
            print(f"{name}: {len(dists)} distributions, site-packages {total / 1024:.1f} MiB "
                  f"({(total - tooling) / 1024:.1f} MiB without pip/setuptools), "
                  f"check-config median {figures[name][3]:.3f} s")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    b, c = figures["bare"], figures["controller"]
    print(f"lean_install runs={args.runs} bare_dists={b[0]} bare_site_mib={b[1] / 1024:.1f} "
          f"bare_net_mib={b[2] / 1024:.1f} bare_startup_s={b[3]:.3f} controller_dists={c[0]} "
          f"controller_site_mib={c[1] / 1024:.1f} controller_net_mib={c[2] / 1024:.1f} "
          f"controller_startup_s={c[3]:.3f}")


if __name__ == "__main__":
    main()
