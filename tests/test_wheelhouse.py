"""benchmarks/wheelhouse.py in its dry mode: the pinned set and the pip command, with no network and no files."""

from __future__ import annotations

import subprocess
from importlib.metadata import version

import pytest

from benchmarks import wheelhouse


def test_dry_run_pins_diffusers_and_its_requirements_without_torch(tmp_path, monkeypatch, capsys):
    def no_network(*a, **k):
        raise AssertionError("the dry run must not run pip")

    monkeypatch.setattr(subprocess, "run", no_network)
    dest = tmp_path / "wheels"
    assert wheelhouse.main(["--dest", str(dest), "--dry-run", "--python-version", "3.11"]) == 0
    out = capsys.readouterr().out
    assert not dest.exists()
    pins = [line.strip() for line in out.splitlines() if line.startswith("  ") and "==" in line]
    names = {p.split("==")[0] for p in pins}
    assert f"diffusers=={version('diffusers')}" in pins
    assert {"huggingface-hub", "importlib-metadata", "safetensors", "scipy", "pillow"} <= names  # diffusers' needs
    assert not {n for n in names if n == "torch" or n.startswith("nvidia-") or n == "triton"}
    command = next(line for line in out.splitlines() if line.startswith("would run: "))
    for part in ("pip download", "--no-deps", "--only-binary=:all:", "--python-version 3.11", f"--dest {dest}"):
        assert part in command
    assert all(pin in command for pin in pins)


def test_closure_follows_markers_and_leaves_torch_out():
    pins, _ = wheelhouse.pinned_closure(("accelerate",), "3.11")  # accelerate requires torch
    names = {p.split("==")[0] for p in pins}
    assert "accelerate" in names and "torch" not in names and "psutil" in names
    assert wheelhouse.install_lines(pins + ["diffusers==1.2.3"]) == ["diffusers==1.2.3", "scipy", "pillow"]


def test_bad_python_version_is_one_line_exit_2(capsys):
    assert wheelhouse.main(["--dry-run", "--python-version", "py3"]) == 2
    assert capsys.readouterr().err.startswith("error: --python-version must look like 3.11")


@pytest.mark.parametrize("name,expected", [("Pillow", "pillow"), ("typing_extensions", "typing-extensions"),
                                           ("zope.interface", "zope-interface")])
def test_canonical_names(name, expected):
    assert wheelhouse.canonical(name) == expected
