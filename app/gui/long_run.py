"""Before a long SD-πXL run: the planner's estimate and what would help (smaller size, the fast converter, the
built-in model, a GPU), in plain words for the confirmation dialog. No Qt here: the window asks."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger(__name__)

CHOICE_START, CHOICE_FAST, CHOICE_SMALLER, CHOICE_CANCEL = "start", "fast", "smaller", "cancel"
GPU_EXAMPLE = "4090"  # engine.sdpixl.planner.DEVICES key the GPU estimate uses (a common desktop GPU)
MIN_SIDE = 8


@dataclass
class LongRunAdvice:
    """What the confirmation says: the estimate, the size that would help, and each option with its time."""

    seconds: float
    device: str
    size: tuple[int, int]
    smaller: tuple[int, int] | None  # None: a smaller size would not help (the model's cost is per step)
    smaller_seconds: float | None
    options: list[str] = field(default_factory=list)

    def text(self, format_seconds: Callable[[float], str]) -> str:
        """The dialog's message: the estimate first, then what helps."""
        lines = [f"This run is estimated to take about {format_seconds(self.seconds)} on {self.device} "
                 f"({self.size[0]} × {self.size[1]} cells).", "", "What helps:"]
        lines += [f"• {o}" for o in self.options]
        lines += ["", "Start it anyway only if you can leave the computer running that long."]
        return "\n".join(lines)


def _estimate(config: Any, device: str | None = None) -> float | None:
    from engine.sdpixl.planner import plan_for_run

    try:
        return plan_for_run(config, device).total_seconds
    except Exception as exc:  # an option without an estimate is still offered, without a time
        log.info("no estimate for %s: %s", device or "this device", exc)
        return None


def smaller_size(config: Any, limit: float, now: float) -> tuple[tuple[int, int] | None, float | None]:
    """Halve the sides until the estimate is under ``limit`` seconds (or a side reaches MIN_SIDE cells); None
    when no smaller size takes less than half of ``now`` (on a CPU the model's cost hardly depends on the size)."""
    w, h, best = config.width, config.height, None
    while max(w, h) > MIN_SIDE:
        w, h = max(MIN_SIDE, w // 2), max(MIN_SIDE, h // 2)
        seconds = _estimate(dataclasses.replace(config, width=w, height=h))
        if seconds is not None and seconds <= now / 2 and (best is None or seconds < best[1]):
            best = ((w, h), seconds)
        if seconds is not None and seconds <= limit:
            break
    return best if best is not None else (None, None)


def builtin_model_available() -> bool:
    """True when the built-in model (engine.sdpixl.builtin and its weights) is installed."""
    try:
        if importlib.util.find_spec("engine.sdpixl.builtin") is None:
            return False
    except (ImportError, ValueError):
        return False
    from engine.sdpixl.builtin.files import builtin_installed

    return builtin_installed()


def long_run_advice(config: Any, plan: Any, limit: float, format_seconds: Callable[[float], str]) -> LongRunAdvice:
    """The advice for a RunConfig whose GuidancePlan ``plan`` runs longer than ``limit`` seconds."""
    smaller, smaller_s = smaller_size(config, limit, plan.total_seconds)

    def about(seconds: float | None) -> str:
        return f"about {format_seconds(seconds)}" if seconds is not None else "less time"

    options = []
    if smaller is not None:
        options.append(f"A smaller pattern: {smaller[0]} × {smaller[1]} cells takes {about(smaller_s)}.")
    per_step = plan.total_seconds / max(1, plan.steps)
    options.append(f"Fewer steps: each step takes about {format_seconds(per_step)} here "
                   f"({plan.steps} steps chosen).")
    options.append("The fast converter: a few seconds, no diffusion model (it needs a picture).")
    if builtin_model_available():
        options.append("The built-in model (leave Model empty): small and quick, made for CPUs.")
    if plan.device == "CPU" or str(plan.device).lower().startswith("cpu"):
        gpu_s = _estimate(config, GPU_EXAMPLE)
        options.append(f"A computer with an NVIDIA graphics card: an RTX 4090 takes {about(gpu_s)} "
                       "(choose the device in Preferences).")
    return LongRunAdvice(plan.total_seconds, str(plan.device), (config.width, config.height), smaller, smaller_s,
                         options)
