"""Train the built-in emoji diffusion model (resumable; never run by CI or tests).

    nohup nice -n 15 python tools/builtin_model/train.py --data /work/data/emoji/emoji32.npz \\
        --run /work/data/emoji/run1 --minutes 90 > /work/data/emoji/run1.log 2>&1 &

Runs on a CPU (hours) or a GPU (minutes; ``--device cuda``). Every ``--checkpoint-minutes`` it writes
``RUN/checkpoint.pt`` (model, EMA, optimiser, step, RNG) atomically; started again with the same ``--run`` it
resumes from there. The loss (a running mean) and images per second go to stdout. ``export.py`` turns the EMA
weights of a checkpoint into the shipped model folder.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.sdpixl.builtin.model import START, BuiltinDiffusion, BuiltinModelConfig  # noqa: E402

NO_FLIP = {"symbols", "flags"}  # categories whose pictures have a handedness (arrows, letters)


def to_model_space(images: np.ndarray) -> torch.Tensor:
    """N x 32 x 32 x 4 straight RGBA uint8 -> N x 4 x 32 x 32 in [-1, 1]: RGB composited over white, alpha."""
    x = torch.as_tensor(images, dtype=torch.float32) / 255.0
    a = x[..., 3:]
    rgb = x[..., :3] * a + (1.0 - a)
    return (torch.cat([rgb, a], dim=-1) * 2.0 - 1.0).permute(0, 3, 1, 2).contiguous()


def sample_captions(tokens: torch.Tensor, n_name: torch.Tensor, max_words: int, p_uncond: float,
                    g: torch.Generator) -> torch.Tensor:
    """One training caption per row: START, then the name's words and/or a random subset of the other words."""
    b = tokens.shape[0]
    out = torch.zeros(b, max_words + 1, dtype=torch.long)
    out[:, 0] = START
    for i in range(b):
        if float(torch.rand((), generator=g)) < p_uncond:
            continue
        row = tokens[i][tokens[i] > 0]
        k_name = int(n_name[i])
        name, rest = row[:k_name], row[k_name:]
        u = float(torch.rand((), generator=g))
        if u < 0.4 and len(name):
            extra = int(torch.randint(0, 3, (), generator=g))
            pick = torch.cat([name, rest[torch.randperm(len(rest), generator=g)[:extra]]])
        else:
            k = int(torch.randint(1, min(len(row), max_words) + 1, (), generator=g))
            pick = row[torch.randperm(len(row), generator=g)[:k]]
        pick = pick[:max_words]
        out[i, 1:1 + len(pick)] = pick
    return out


def warm_start_weights(source: Path) -> tuple[dict[str, torch.Tensor], int]:
    """(weights as float32, the step they were trained to) from a training checkpoint or a shipped model folder
    (its EMA weights, model.safetensors, with the step its config.json records)."""
    if source.is_dir():
        from safetensors.torch import load_file

        weights = {k: v.float() for k, v in load_file(str(source / "model.safetensors")).items()}
        extra = json.loads((source / "config.json").read_text(encoding="utf-8")).get("extra", {})
        return weights, int(extra.get("steps", 0))
    warm = torch.load(source, map_location="cpu", weights_only=False)
    return warm["model"], int(warm["step"])


def learning_rate(args: argparse.Namespace, step: int, first_step: int) -> float:
    """Linear warm-up over ``--warmup`` steps, then constant or (``--decay-steps``) cosine down to 5 %."""
    k = step - first_step
    lr = args.lr * min(1.0, (k + 1) / max(1, args.warmup))
    if args.decay_steps > 0:
        frac = min(1.0, k / args.decay_steps)
        lr *= 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * frac))
    return lr


def atomic_save(obj: object, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description="train the built-in emoji diffusion model")
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--run", type=Path, required=True, help="folder for checkpoint.pt (resumed when present)")
    ap.add_argument("--minutes", type=float, default=90.0, help="stop after this much wall time (this session)")
    ap.add_argument("--steps", type=int, default=10**9, help="stop at this total step count")
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--p-uncond", type=float, default=0.1, help="classifier-free guidance dropout")
    ap.add_argument("--min-snr", type=float, default=5.0, help="min-SNR loss weighting gamma (0: plain MSE)")
    ap.add_argument("--checkpoint-minutes", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--config", default="{}", help="JSON overrides of BuiltinModelConfig")
    ap.add_argument("--init-from", type=Path,
                    help="a new run starts from these weights (warm start): a checkpoint.pt or a shipped model folder")
    ap.add_argument("--decay-steps", type=int, default=0,
                    help="cosine decay of the learning rate to 5%% over this many steps of this run (0: constant)")
    ap.add_argument("--new-cycle", action="store_true",
                    help="on resume, start the warm-up and decay again from the current step (a warm restart)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from diffusers import DDPMScheduler

    data = np.load(args.data)
    vocab = [str(w) for w in data["vocab"]]
    x_all = to_model_space(data["images"])
    tokens = torch.as_tensor(data["tokens"].astype(np.int64))
    n_name = torch.as_tensor(data["n_name"].astype(np.int64))
    flip_ok = torch.as_tensor([str(c).split()[0].lower() not in NO_FLIP for c in data["categories"]])
    args.run.mkdir(parents=True, exist_ok=True)
    ckpt_path = args.run / "checkpoint.pt"
    dev = torch.device(args.device)

    if ckpt_path.is_file():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        config = BuiltinModelConfig.from_dict(state["config"])
    else:
        state = None
        config = BuiltinModelConfig.from_dict({**BuiltinModelConfig(vocab_size=len(vocab)).to_dict(),
                                               **json.loads(args.config)})
    if config.vocab_size != len(vocab):
        raise SystemExit(f"the data set has {len(vocab)} words but the model {config.vocab_size}")
    model = BuiltinDiffusion(config).to(dev)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(0)
    step, wall = 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        g.set_state(state["rng"])
        step, wall = int(state["step"]), float(state.get("wall", 0.0))
        print(f"resumed at step {step} ({wall / 60:.1f} min trained)", flush=True)
    elif args.init_from:
        weights, warm_step = warm_start_weights(args.init_from)
        missing, unexpected = model.load_state_dict(weights, strict=False)
        ema.load_state_dict(model.state_dict())
        print(f"warm start from {args.init_from} (step {warm_step}); new: {missing}; dropped: {unexpected}",
              flush=True)
    sched = DDPMScheduler(num_train_timesteps=config.num_train_timesteps, beta_schedule=config.beta_schedule,
                          prediction_type=config.prediction_type)
    alphas = sched.alphas_cumprod.to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{len(x_all)} images, {len(vocab)} words, {n_params / 1e6:.2f} M parameters, batch {args.batch}",
          flush=True)

    first_step = int(state.get("first_step", 0)) if state is not None and not args.new_cycle else step

    def save() -> None:
        atomic_save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(),
                     "rng": g.get_state(), "step": step, "wall": wall, "config": config.to_dict(),
                     "vocab": vocab, "loss": running, "first_step": first_step}, ckpt_path)
        print(f"checkpoint at step {step}", flush=True)

    t_start = time.time()
    last_ckpt = t_start
    running, seen, t_log = None, 0, time.time()
    while step < args.steps and time.time() - t_start < args.minutes * 60:
        t0 = time.time()
        idx = torch.randint(0, len(x_all), (args.batch,), generator=g)
        x0 = x_all[idx].clone()
        flip = (torch.rand(args.batch, generator=g) < 0.5) & flip_ok[idx]
        x0[flip] = x0[flip].flip(-1)
        caps = sample_captions(tokens[idx], n_name[idx], config.max_words, args.p_uncond, g)
        t = torch.randint(0, config.num_train_timesteps, (args.batch,), generator=g)
        noise = torch.randn(x0.shape, generator=g)
        x0, caps, t, noise = x0.to(dev), caps.to(dev), t.to(dev), noise.to(dev)
        a = alphas[t].view(-1, 1, 1, 1)
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise
        pred = model(x_t, t, caps)
        v_pred = config.prediction_type == "v_prediction"
        target = a.sqrt() * noise - (1 - a).sqrt() * x0 if v_pred else noise
        per = (pred.float() - target).pow(2).mean(dim=(1, 2, 3))
        if args.min_snr > 0:  # min-SNR-gamma weighting (Hang et al. 2023), in the form for eps or v targets
            snr = alphas[t] / (1 - alphas[t])
            per = per * torch.clamp(snr, max=args.min_snr) / (snr + 1 if v_pred else snr.clamp_min(1e-8))
        loss = per.mean()
        lr = learning_rate(args, step, first_step)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - decay)
        step += 1
        wall += time.time() - t0
        lv = float(loss.detach())
        running = lv if running is None else 0.98 * running + 0.02 * lv
        seen += args.batch
        if step % 10 == 0:
            now = time.time()
            print(f"step {step}  loss {running:.4f}  lr {lr:.2e}  {seen / (now - t_log):.1f} img/s  "
                  f"epoch {step * args.batch / len(x_all):.1f}", flush=True)
            seen, t_log = 0, now
        if time.time() - last_ckpt > args.checkpoint_minutes * 60:
            save()
            last_ckpt = time.time()
    save()
    if not math.isfinite(running or 0.0):
        raise SystemExit("the loss is not finite")


if __name__ == "__main__":
    main()
