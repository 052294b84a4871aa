"""Words a maker understands for what the engine reports (loss names, stages)."""

from __future__ import annotations

# Engine loss name -> (label, what it means). Names not listed are shown as they come.
LOSS_WORDS: dict[str, tuple[str, str]] = {
    "sds": ("shape", "how well the picture matches the prompt, judged by the diffusion model (lower is better)"),
    "fft": ("smoothness", "how free of pixel noise the pattern is (lower is better)"),
    "fidelity": ("likeness", "how close the pattern stays to your picture (lower is better)"),
    "total": ("overall", "everything combined; it should go down as the run converges"),
    "entropy": ("undecided cells", "how undecided the cells still are between their candidate colours (the "
                                   "entropy of the colour choices): high at the start, near 0 once every cell has "
                                   "settled on one colour — the run has converged"),
}


def loss_label(name: str) -> str:
    """``sds`` -> ``shape``, ``fft`` -> ``smoothness``; unknown names unchanged (underscores as spaces)."""
    return LOSS_WORDS.get(name, (name.replace("_", " "), ""))[0]


SHARES = ("entropy",)  # values in 0..1 shown in percent
HIDDEN = ("t", "grad_norm")  # diagnostics of the last step (the CLI's log keeps them); not a maker's number


def describe_losses(losses: dict[str, float]) -> tuple[str, str]:
    """(one line for the status bar, a tooltip explaining each term) for a progress report's losses."""
    known = ("sds", "fft", "fidelity", "entropy")
    order = [k for k in known if k in losses] + [
        k for k in losses if k not in (*known, "total", *HIDDEN)]
    if not order and "total" in losses:
        order = ["total"]

    def value(k: str) -> str:
        return f"{losses[k]:.0%}".replace("%", " %") if k in SHARES else f"{losses[k]:.3g}"

    line = " · ".join(f"{loss_label(k)} {value(k)}" for k in order)
    tip = "\n".join(f"{loss_label(k)}: {LOSS_WORDS[k][1]}" for k in [*order, "total"]
                    if k in LOSS_WORDS and k in losses)
    return line, tip


# Command-line flags the engine and exporters name in their messages (shared with the CLI) -> what the app calls
# that setting. ``plain_words`` rewrites every message the app shows through this table.
FLAG_WORDS: dict[str, str] = {
    "prompt": "Prompt", "negative-prompt": "Negative prompt", "image": "Picture", "size": "Size",
    "palette": "Palette", "finishes": "Finishes", "owned": "owned colours", "max-colors": "At most … colours",
    "controlnet": "ControlNets", "guidance": "Guidance", "device": "Device (Preferences)", "steps": "Steps",
    "model": "Model", "model-config": "Model", "merge-tiny": "Merge tiny areas", "cell-mm": "Cell size",
    "design-mm": "Design size", "thread-chart": "Thread chart", "spares": "Spares", "spares-min": "Spares",
    "bag-size": "Bag size", "board": "Board", "paper": "Paper", "true-scale": "True scale", "base": "Base",
    "piece": "Piece", "section": "Section", "scale": "Scale", "cell-px": "Cell size", "stash": "In stock",
}
# Whole phrases first: a flag with its command-line value reads better as an action.
FLAG_PHRASES: tuple[tuple[str, str], ...] = (
    (r"pass --prompt", "type a prompt in the Prompt box"),
    (r"\(--image\)", "(open a picture)"),
    (r"e\.g\. --size (\d+)x(\d+)", r"e.g. \1 × \2 cells in the Size box"),
    (r"--size WxH", "a size in the Size box"),
    (r"\(e\.g\. --palette lego\)", "(e.g. LEGO solid colours)"),
    (r"use --device cpu or auto", "choose the CPU or automatic in Preferences > Device"),
    (r"leave out --controlnet", "untick the ControlNets"),
    (r"--guidance latent", "Guidance: Whole picture (latent)"),
    (r"set fit to pad or stretch", "choose Fit: Pad (whole picture) or Stretch"),
    # command-line value placeholders in exporter help texts
    (r"\bWIDTHxHEIGHT\b", "width × height"),
)

# What one cell is called in each medium (a merge moves this many of them to another colour).
PIECE_WORDS = {"bead": "beads", "brick": "bricks", "thread": "stitches", "pixel": "cells"}


def merge_lines(merged: list[dict], palette, kind: str) -> list[str]:
    """The conversion's colour merges (``Pattern.metadata["merged"]``) by colour name:
    "Pastel Pink (3 beads) → Pink" (too few to keep); "Red (12 beads beyond your stock) → Dark Red"."""
    def name(code: str) -> str:
        try:
            return palette[palette.index_of(code)].name or code
        except (KeyError, ValueError):
            return code

    unit = PIECE_WORDS.get(kind, "cells")
    out = []
    for m in merged:
        into = sorted(m["into"].items(), key=lambda kv: -kv[1])
        dest = name(into[0][0]) if len(into) == 1 else ", ".join(f"{name(c)} ({n})" for c, n in into)
        why = "" if m["reason"] == "min-count" else " beyond your stock"
        out.append(f"{name(m['code'])} ({m['cells']} {unit}{why}) → {dest}")
    return out


def plain_words(text: str) -> str:
    """``text`` without command-line flags: known phrases become actions in the app, any other ``--flag`` the
    setting's name in quotes ("use --merge-tiny" -> "use “Merge tiny areas”")."""
    import re

    for pattern, words in FLAG_PHRASES:
        text = re.sub(pattern, words, text)

    def name(match: re.Match) -> str:
        flag = match.group(1)
        return f"“{FLAG_WORDS.get(flag, flag.replace('-', ' ').capitalize())}”"

    return re.sub(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)", name, text)
