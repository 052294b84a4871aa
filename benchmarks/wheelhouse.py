"""Build a wheelhouse for a GPU machine that has torch but no diffusers and no network (for `sds_speed.py`).

A bare CUDA machine often has torch (and maybe transformers and safetensors) but not diffusers or the project's
other run-time packages. On a machine with network, this script pins the packages the benchmark needs to the
versions installed here (the versions the tests pass with) and `pip download --no-deps`s exactly that set as wheels
for the GPU machine's Python and platform; torch and its CUDA packages are left out (the machine has its own).

    python benchmarks/wheelhouse.py --dest /work/wheelhouse [--python-version 3.11] [--dry-run]

Then, on the GPU machine (no network), from the repository root:

    pip install --no-index --find-links /work/wheelhouse -r /work/wheelhouse/requirements.txt
    python benchmarks/sds_speed.py            # default configuration first; about 8 minutes at most

``--dry-run`` prints the pinned set and the pip command without running it (no network).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

# What the benchmark imports beyond torch: diffusers (pinned here) and the engine's own run-time needs.
ROOTS = ("diffusers", "transformers", "safetensors", "scipy", "pillow", "numpy")
# Provided with torch on a CUDA machine: never downloaded (CUDA builds are large and machine-specific).
WITH_TORCH = re.compile(r"^(torch|triton|nvidia-.*|cuda-.*|sympy|mpmath|networkx|jinja2|markupsafe|setuptools)$")
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_24_x86_64", "manylinux_2_27_x86_64",
             "manylinux_2_28_x86_64", "manylinux_2_31_x86_64", "manylinux_2_34_x86_64")


def canonical(name: str) -> str:
    """PEP 503 name (lower case, runs of -_. as one dash)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def marker_env(python_version: str) -> dict[str, str]:
    """The GPU machine's environment for requirement markers (Linux x86_64, CPython ``python_version``)."""
    return {"python_version": python_version, "python_full_version": python_version + ".0",
            "platform_machine": "x86_64", "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
            "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}


def pinned_closure(roots: tuple[str, ...] = ROOTS, python_version: str = "3.11") -> tuple[list[str], list[str]]:
    """``(["name==version", ...], [skipped notes])``: the roots and everything they require on the GPU machine, at
    the versions installed here, less what comes with torch."""
    from packaging.requirements import Requirement

    env = marker_env(python_version)
    pins: dict[str, str] = {}
    notes: list[str] = []
    todo = list(roots)
    while todo:
        name = canonical(todo.pop())
        if name in pins or WITH_TORCH.match(name):
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            notes.append(f"{name}: not installed here, so no version to pin (skipped)")
            continue
        pins[name] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate(env):
                todo.append(req.name)
    return [f"{n}=={v}" for n, v in sorted(pins.items())], notes


def download_command(pins: list[str], dest: Path, python_version: str) -> list[str]:
    """The `pip download` call: wheels only, no dependency resolution (the set is already complete)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(dest),
           "--python-version", python_version, "--implementation", "cp"]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    return cmd + pins


def install_lines(pins: list[str]) -> list[str]:
    """requirements.txt for the GPU machine: diffusers at the pinned version; scipy and Pillow at any version already
    there (else the wheelhouse's), so torch's numpy is never replaced."""
    diffusers = [pin for pin in pins if pin.startswith("diffusers==")]
    return diffusers + ["scipy", "pillow"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dest", default="wheelhouse", help="folder for the wheels and requirements.txt")
    p.add_argument("--python-version", default=f"{sys.version_info.major}.{sys.version_info.minor}",
                   help="the GPU machine's Python, e.g. 3.11 (default: this one's)")
    p.add_argument("--dry-run", action="store_true", help="print the pinned set and the command; download nothing")
    args = p.parse_args(argv)
    if not re.fullmatch(r"3\.\d+", args.python_version):
        print(f"error: --python-version must look like 3.11, got {args.python_version!r}", file=sys.stderr)
        return 2
    dest = Path(args.dest)
    pins, notes = pinned_closure(ROOTS, args.python_version)
    cmd = download_command(pins, dest, args.python_version)
    print(f"{len(pins)} packages pinned for CPython {args.python_version} on Linux x86_64 (torch and its CUDA "
          f"packages excluded):")
    for pin in pins:
        print(f"  {pin}")
    for note in notes:
        print(f"  note: {note}")
    if args.dry_run:
        print("would run: " + " ".join(cmd))
        return 0
    dest.mkdir(parents=True, exist_ok=True)
    failed = []
    if subprocess.run(cmd).returncode != 0:  # one call for all; on failure, package by package to name the culprit
        for pin in pins:
            if subprocess.run(download_command([pin], dest, args.python_version)).returncode != 0:
                failed.append(pin)
    wanted = install_lines(pins)
    (dest / "requirements.txt").write_text("\n".join(wanted) + "\n", encoding="utf-8")
    wheels = sorted(dest.glob("*.whl"))
    size = sum(w.stat().st_size for w in wheels) / 1e6
    print(f"{len(wheels)} wheels ({size:.1f} MB) in {dest}; requirements.txt: {', '.join(wanted)}")
    print(f"on the GPU machine: pip install --no-index --find-links {dest} -r {dest / 'requirements.txt'}")
    if failed:
        print(f"error: no wheel for {', '.join(failed)} (CPython {args.python_version}, Linux x86_64)",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
