"""Words a maker understands for what the engine reports (loss names, stages)."""

from __future__ import annotations

# Engine loss name -> (label, what it means). Names not listed are shown as they come.
LOSS_WORDS: dict[str, tuple[str, str]] = {
    "sds": ("shape", "how well the picture matches the prompt, judged by the diffusion model (lower is better)"),
    "fft": ("smoothness", "how free of pixel noise the pattern is (lower is better)"),
    "fidelity": ("likeness", "how close the pattern stays to your picture (lower is better)"),
    "total": ("overall", "everything combined; it should go down as the run converges"),
}


def loss_label(name: str) -> str:
    """``sds`` -> ``shape``, ``fft`` -> ``smoothness``; unknown names unchanged (underscores as spaces)."""
    return LOSS_WORDS.get(name, (name.replace("_", " "), ""))[0]


def describe_losses(losses: dict[str, float]) -> tuple[str, str]:
    """(one line for the status bar, a tooltip explaining each term) for a progress report's losses."""
    order = [k for k in ("sds", "fft", "fidelity") if k in losses] + [
        k for k in losses if k not in ("sds", "fft", "fidelity", "total")]
    if not order and "total" in losses:
        order = ["total"]
    line = " · ".join(f"{loss_label(k)} {losses[k]:.3g}" for k in order)
    tip = "\n".join(f"{loss_label(k)}: {LOSS_WORDS[k][1]}" for k in [*order, "total"]
                    if k in LOSS_WORDS and k in losses)
    return line, tip
