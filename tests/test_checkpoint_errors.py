"""A damaged or foreign checkpoint given to --resume: one plain line that says what is wrong and what to do (exit 2),
never torch's advice to load the file unsafely."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_models import build_cached

from engine.sdpixl.optimize import OptimizeError, RunConfig, load_checkpoint
from main import main


def _damaged_files(folder):
    garbage = folder / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint at all")
    foreign = folder / "foreign.ckpt"  # a pickle that the safe loader refuses (numpy object): torch's long advice
    torch.save({"version": 2, "x": np.zeros(3)}, foreign)
    data = foreign.read_bytes()
    truncated = folder / "truncated.ckpt"
    truncated.write_bytes(data[: len(data) // 2])
    return [garbage, foreign, truncated]


def test_damaged_checkpoints_are_refused_in_plain_words(tmp_path, perler):
    config = RunConfig(prompt="a cat", palette=perler.subset([0, 1, 2]), width=8, height=8)
    for path in _damaged_files(tmp_path):
        with pytest.raises(OptimizeError) as info:
            load_checkpoint(path, config)
        text = str(info.value)
        assert "\n" not in text and path.name in text and "damaged" in text and "new run" in text
        assert "weights_only" not in text and "arbitrary code" not in text


def test_cli_resume_from_a_damaged_checkpoint_exits_2_with_one_line(tiny_root, tmp_path, capsys):
    model = build_cached("sd15", tiny_root)
    bad = _damaged_files(tmp_path)[1]
    out = tmp_path / "x.pixl"
    code = main(["generate", "--prompt", "a cat", "--palette", "perler", "--size", "8x8", "--steps", "2",
                 "--model", str(model), "--seed", "1", "--device", "cpu", "--out", str(out), "--resume", str(bad)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    last = err.splitlines()[-1]
    assert bad.name in last and "damaged" in last
    assert "weights_only" not in err and "arbitrary code" not in err and "-v" not in last
    assert not out.exists()
