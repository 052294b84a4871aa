"""Machine files from a finished stitch plan: the bytes of each format (vectorised writers) written atomically."""

from __future__ import annotations

import logging
from pathlib import Path

from engine.core.atomic import atomic_path
from exporters.common.errors import ExportError
from exporters.embroidery import writers
from exporters.embroidery.dst import dst_bytes
from exporters.embroidery.formats import MACHINE_FORMATS, check_format_limits
from exporters.embroidery.plan import StitchPlan, emb_thread

log = logging.getLogger(__name__)


def plan_bytes(plan: StitchPlan, fmt: str) -> bytes:
    """The file contents of a stitch plan in ``fmt`` (see ``formats`` for how moves and trims are written)."""
    fmt = fmt.lower()
    if fmt == "dst":
        return dst_bytes(plan.units, plan.cmds, [(t.hex.lower(), t.name, t.code) for t in plan.threads], plan.name)
    threads = [emb_thread(t) for t in plan.threads]
    if fmt == "exp":
        return writers.exp_bytes(plan.units, plan.cmds)
    if fmt == "jef":
        return writers.jef_bytes(plan.units, plan.cmds, threads, trims=True)
    if fmt == "pes":
        return writers.pes_bytes(plan.units, plan.cmds, threads, plan.name[:16])
    if fmt == "vp3":
        return writers.vp3_bytes(plan.units, plan.cmds, threads)
    raise ExportError(f"unknown embroidery format {fmt!r}; choose one of: {', '.join(MACHINE_FORMATS)}")


def write_plan(plan: StitchPlan, path: str | Path, fmt: str) -> Path:
    """Write a stitch plan as ``fmt`` atomically (the plan is already within every format's limits)."""
    fmt = fmt.lower()
    check_format_limits(fmt, plan.report.color_changes)
    data = plan_bytes(plan, fmt)
    path = Path(path)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
    log.info("wrote %s (%s)", path, fmt)
    return path
