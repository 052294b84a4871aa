"""Finding and loading diffusion models: hub ids (normal HF cache), local diffusers folders, single files.

Every failure becomes a ``ModelLoadError`` whose message names what is missing and how to get it; a hub model
that is not cached while the hub cannot be reached is a ``ModelOfflineError`` (its ``plain`` text is for the GUI).
Offline is detected once, quickly: ``HF_HUB_OFFLINE=1``, or a failed 1.5 s TCP connect to the hub (cached for
the process), after which every load uses the local cache only (no minute of retries per file).
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

FAMILIES = ("sdxl", "sd15")
DEFAULT_MODELS = {"sdxl": "stabilityai/stable-diffusion-xl-base-1.0",
                  "sd15": "stable-diffusion-v1-5/stable-diffusion-v1-5"}
DEFAULT_TINY_VAE = {"sdxl": "madebyollin/taesdxl", "sd15": "madebyollin/taesd"}
DEFAULT_CONTROLNETS = {
    # The reference's choice: the "-mid" nets (about a quarter of the full nets' FLOPs and memory) at scale 0.15.
    "sdxl": {"canny": "diffusers/controlnet-canny-sdxl-1.0-mid", "depth": "diffusers/controlnet-depth-sdxl-1.0-mid"},
    "sd15": {"canny": "lllyasviel/control_v11p_sd15_canny", "depth": "lllyasviel/control_v11f1p_sd15_depth"},
}
DEFAULT_DEPTH_MODEL = "Intel/dpt-hybrid-midas"
_OPTION = {"model": "--model", "ControlNet": "--controlnet-model", "LoRA": "--lora", "depth model": "--depth-model",
           "tiny autoencoder": "--tiny-vae", "CLIP model": "--clip-model"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
_WEIGHT_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")


class ModelLoadError(RuntimeError):
    """A model could not be found or loaded; the message says what is missing and how to get it."""


class ModelOfflineError(ModelLoadError):
    """A hub model is not in the local cache and the hub cannot be reached (or HF_HUB_OFFLINE is set).

    ``repo``: the hub id; ``what``: "model", "ControlNet", ...; ``command``: the download command to run once
    online; ``plain``: the same advice in plain words for a dialog (the GUI adds a Browse button for a local
    diffusers folder or .safetensors file, passed back as ``SDXLGuidanceConfig.model``).
    """

    def __init__(self, message: str, repo: str, what: str, command: str, plain: str) -> None:
        super().__init__(message)
        self.repo, self.what, self.command, self.plain = repo, what, command, plain

    def __reduce__(self):  # picklable across processes/threads like a plain exception
        return (type(self), (str(self), self.repo, self.what, self.command, self.plain))


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: ``kind`` is "folder", "file" or "hub"; ``location`` the path or repo id."""

    kind: str
    location: str

    def describe(self) -> str:
        return {"folder": "folder", "file": "checkpoint file", "hub": "hub model"}[self.kind] + f" {self.location}"


_REACH_CACHE: dict[str, tuple[float, bool]] = {}
REACH_TIMEOUT_S = 1.5
REACH_CACHE_S = 300.0


def hub_reachable(timeout: float = REACH_TIMEOUT_S) -> bool:
    """One quick TCP connect to the hub (``HF_ENDPOINT`` or huggingface.co, port 443); the answer is cached for
    a few minutes so a run asks once, not once per file."""
    from urllib.parse import urlparse

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint if "://" in endpoint else "https://" + endpoint)
    host = url.hostname or "huggingface.co"
    port = url.port or (80 if url.scheme == "http" else 443)
    key = f"{host}:{port}"
    now = time.monotonic()
    cached = _REACH_CACHE.get(key)
    if cached is not None and now - cached[0] < REACH_CACHE_S:
        return cached[1]
    try:
        with socket.create_connection((host, port), timeout=timeout):
            ok = True
    except OSError:
        ok = False
    _REACH_CACHE[key] = (now, ok)
    if not ok:
        log.info("the model hub (%s) cannot be reached: using the local cache only", key)
    return ok


def offline_by_setting() -> bool:
    """True when ``HF_HUB_OFFLINE`` is set to a true value."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def offline() -> bool:
    """True when the hub must not be contacted: ``HF_HUB_OFFLINE`` set, or the hub unreachable (quick check)."""
    return offline_by_setting() or not hub_reachable()


def download_command(repo: str) -> str:
    """The download command of the installed huggingface_hub: ``hf download`` (1.x) or ``huggingface-cli``."""
    try:
        from importlib.metadata import entry_points

        names = {ep.name for ep in entry_points(group="console_scripts")}
    except Exception:  # pragma: no cover - broken metadata
        names = set()
    tool = "hf download" if "hf" in names or "huggingface-cli" not in names else "huggingface-cli download"
    return f"{tool} {repo}"


def resolve_source(source: str | os.PathLike, what: str = "model") -> ModelSource:
    """Classify ``source`` as an existing folder, an existing weights file, or a hub id."""
    text = str(source).strip()
    if not text:
        raise ModelLoadError(f"no {what} given: pass a hub id (owner/name), a diffusers folder or a .safetensors file")
    path = Path(text).expanduser()
    if path.is_dir():
        return ModelSource("folder", str(path))
    if path.is_file():
        if path.suffix.lower() not in _WEIGHT_SUFFIXES:
            kinds = ", ".join(_WEIGHT_SUFFIXES)
            raise ModelLoadError(f"{what} file {path} is not a weights file (expected one of {kinds})")
        return ModelSource("file", str(path))
    if path.suffix.lower() in _WEIGHT_SUFFIXES or text.startswith((".", "/", "~")) or text.count("/") > 1:
        raise ModelLoadError(f"{what} {text} not found: no such file or folder; check the path")
    if _HUB_ID.match(text):
        return ModelSource("hub", text)
    raise ModelLoadError(f"{what} {text!r} is neither an existing folder/file nor a hub id like owner/name")


def check_local_model(source: str | os.PathLike | None) -> None:
    """Refuse a local model folder whose model_index.json is damaged before anything is planned or loaded (a
    folder without one, a hub id or a weights file is checked when it loads); ``None`` (the built-in model)
    passes."""
    if source is None:
        return
    resolved = resolve_source(source)
    if resolved.kind == "folder" and (Path(resolved.location) / "model_index.json").exists():
        detect_family(resolved)


def how_to_get(source: ModelSource, what: str = "model") -> str:
    """One sentence telling the user how to make ``source`` available offline."""
    option = _OPTION.get(what, "--model")
    if source.kind == "hub":
        return (f"download it once with `{download_command(source.location)}` (needs internet), "
                f"or point {option} at a local folder or .safetensors file")
    return f"check that {source.location} is a complete, readable {what}"


def _fail(source: ModelSource, what: str, exc: BaseException) -> ModelLoadError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if source.kind == "hub" and offline():
        why = "HF_HUB_OFFLINE is set" if offline_by_setting() else "there is no connection to the model hub"
        command = download_command(source.location)
        message = (f"could not load {what} {source.location!r}: it is not in the local Hugging Face cache and "
                   f"{why}; {how_to_get(source, what)}")
        plain = (f"The {what} {source.location} is not on this computer and it cannot be downloaded now "
                 f"({why}). Connect to the internet and run \"{command}\" once, or choose a model folder or "
                 f".safetensors file that is already on this computer.")
        return ModelOfflineError(message, source.location, what, command, plain)
    return ModelLoadError(f"could not load {what} {source.location!r}: {reason[:300]}; {how_to_get(source, what)}")


def _loader_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError, ValueError, KeyError, RuntimeError]
    try:
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

        errors += [HfHubHTTPError, LocalEntryNotFoundError]
    except ImportError:  # pragma: no cover - older huggingface_hub
        pass
    return tuple(errors)


# --------------------------------------------------------------------------- device and dtype
def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else Apple MPS, else CPU; anything else is passed to ``torch.device``."""
    if str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise ModelLoadError(f"unknown device {str(device)[:40]!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("device 'cuda' was requested but no CUDA GPU is available; use --device cpu or auto")
    return dev


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """``auto`` -> fp16 on CUDA, fp32 elsewhere; also accepts fp32/fp16/bf16 names or torch dtypes."""
    if isinstance(dtype, torch.dtype):
        return dtype
    names = {"fp32": torch.float32, "float32": torch.float32, "fp16": torch.float16, "float16": torch.float16,
             "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}
    if dtype == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if dtype not in names:
        raise ModelLoadError(f"unknown dtype {dtype!r}; choose auto, fp32, fp16 or bf16")
    if device.type == "cpu" and names[dtype] == torch.float16:
        log.warning("fp16 on the CPU is slow and poorly supported; using fp32")
        return torch.float32
    return names[dtype]


# --------------------------------------------------------------------------- families
def detect_family(source: ModelSource) -> str:
    """'sdxl' or 'sd15' from a folder's model_index.json, a checkpoint's keys, or a hub config."""
    if source.kind == "folder":
        index = Path(source.location) / "model_index.json"
        if not index.is_file():
            raise ModelLoadError(f"{source.location} is not a diffusers pipeline folder (no model_index.json)")
        try:
            data = json.loads(index.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise ModelLoadError(f"{index} is damaged ({str(exc)[:80]}); re-download the model folder") from None
        name = data.get("_class_name", "") if isinstance(data, dict) else None
        if not isinstance(name, str):
            raise ModelLoadError(f"{index} is not a diffusers model index (no _class_name); re-download the model")
        return "sdxl" if "XL" in name else "sd15"
    if source.kind == "file":
        try:
            from safetensors import safe_open

            with safe_open(source.location, framework="pt") as f:
                keys = list(f.keys())
        except Exception:  # .ckpt files and friends: assume the more common new family
            return "sdxl"
        return "sdxl" if any(k.startswith("conditioner.embedders.1") for k in keys) else "sd15"
    from diffusers import DiffusionPipeline

    try:
        cfg = DiffusionPipeline.load_config(source.location, local_files_only=offline())
    except _loader_errors() as exc:
        raise _fail(source, "model", exc) from None
    return "sdxl" if "XL" in cfg.get("_class_name", "") else "sd15"


def pipeline_class(family: str):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    if family not in FAMILIES:
        raise ModelLoadError(f"unknown model family {family!r}; choose sdxl or sd15")
    return StableDiffusionXLPipeline if family == "sdxl" else StableDiffusionPipeline


def load_pipeline(source: str, family: str = "auto", dtype: torch.dtype = torch.float32,
                  model_config: str | None = None) -> tuple[Any, str]:
    """Load a text-to-image pipeline (on the CPU, in ``dtype``); returns ``(pipeline, family)``.

    ``model_config`` (a diffusers folder or hub id of the same architecture) is needed by single-file
    checkpoints when the matching configuration is not cached.
    """
    src = resolve_source(source, "model")
    fam = detect_family(src) if family == "auto" else family
    cls = pipeline_class(fam)
    kwargs: dict[str, Any] = {"torch_dtype": dtype}
    if fam == "sd15":
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    try:
        if src.kind == "file":
            if model_config:
                kwargs["config"] = model_config
            pipe = cls.from_single_file(src.location, local_files_only=offline() or model_config is not None,
                                        **kwargs)
        else:
            pipe = cls.from_pretrained(src.location, local_files_only=src.kind == "folder" or offline(), **kwargs)
    except ImportError as exc:
        raise ModelLoadError(f"loading {src.describe()} needs a missing package: {exc}") from None
    except _loader_errors() as exc:
        if src.kind == "file":
            raise ModelLoadError(
                f"could not load checkpoint {src.location}: {str(exc).splitlines()[0][:300]}; single-file "
                f"checkpoints need their diffusers configuration: pass --model-config with a diffusers folder or hub "
                f"id of the same architecture (e.g. {DEFAULT_MODELS[fam]}), cached or downloaded once"
            ) from None
        raise _fail(src, "model", exc) from None
    log.info("loaded %s (%s, %s)", src.describe(), fam, dtype)
    return pipe, fam


def load_controlnet(source: str, dtype: torch.dtype = torch.float32):
    """Load one ControlNet from a hub id, diffusers folder or single file."""
    from diffusers import ControlNetModel

    src = resolve_source(source, "ControlNet")
    try:
        if src.kind == "file":
            net = ControlNetModel.from_single_file(src.location, torch_dtype=dtype)
        else:
            net = ControlNetModel.from_pretrained(src.location, torch_dtype=dtype,
                                                  local_files_only=src.kind == "folder" or offline())
    except _loader_errors() as exc:
        raise _fail(src, "ControlNet", exc) from None
    return net


def load_tiny_vae(source: str, family: str, model_source: str, dtype: torch.dtype = torch.float32):
    """The tiny autoencoder used for encoding, or None to fall back to the pipeline's VAE.

    ``source="auto"``: a ``taesd``/``taesdxl`` sub-folder of a local model folder, else the default TAESD(XL)
    from the HF cache, else (when the hub is reachable) downloaded with the model; None only when offline and
    not cached (the caller then runs the full VAE in bf16 with gradient checkpointing and says so).
    ``"none"``: None; anything else must load.
    """
    from diffusers import AutoencoderTiny

    if source == "none":
        return None
    if source == "auto":
        model = Path(str(model_source)).expanduser()
        for name in ("taesdxl", "taesd"):
            if (model / name / "config.json").is_file():
                return AutoencoderTiny.from_pretrained(str(model / name), torch_dtype=dtype)
        repo = DEFAULT_TINY_VAE[family]
        try:
            return AutoencoderTiny.from_pretrained(repo, torch_dtype=dtype, local_files_only=True)
        except _loader_errors():
            pass
        if not offline():
            try:
                log.info("downloading the tiny autoencoder %s (the reference's encoder, ~10 MB)", repo)
                return AutoencoderTiny.from_pretrained(repo, torch_dtype=dtype)
            except _loader_errors() as exc:
                log.warning("could not download %s (%s)", repo, str(exc).splitlines()[0][:200] if str(exc) else exc)
        log.warning("no tiny autoencoder (%s) on this computer: encoding with the full VAE (bf16 on GPU, gradient "
                    "checkpointing; slower, more memory). Run `%s` once online, or pass --tiny-vae none to choose "
                    "the full VAE explicitly", repo, download_command(repo))
        return None
    src = resolve_source(source, "tiny autoencoder")
    try:
        if src.kind == "file":
            raise ModelLoadError(f"tiny autoencoder {src.location}: give its diffusers folder or hub id, not a file")
        return AutoencoderTiny.from_pretrained(src.location, torch_dtype=dtype,
                                               local_files_only=src.kind == "folder" or offline())
    except _loader_errors() as exc:
        raise _fail(src, "tiny autoencoder", exc) from None


def load_depth_model(source: str = DEFAULT_DEPTH_MODEL):
    """A transformers depth estimator (DPT) and its image processor, from a hub id or a local folder."""
    from transformers import AutoImageProcessor, DPTForDepthEstimation

    src = resolve_source(source, "depth model")
    if src.kind == "file":
        raise ModelLoadError(f"depth model {src.location}: give its folder or hub id (transformers), not a file")
    local = src.kind == "folder" or offline()
    try:
        model = DPTForDepthEstimation.from_pretrained(src.location, local_files_only=local)
        processor = AutoImageProcessor.from_pretrained(src.location, local_files_only=local)
    except _loader_errors() as exc:
        raise _fail(src, "depth model", exc) from None
    model.requires_grad_(False).eval()
    return model, processor


def load_lora(pipe: Any, source: str, scale: float) -> None:
    """Load a LoRA (file or folder or hub id) into ``pipe`` and fuse it at ``scale`` (no runtime cost)."""
    src = resolve_source(source, "LoRA")
    try:
        import peft  # noqa: F401  (diffusers' LoRA loading needs it)
    except ImportError:
        raise ModelLoadError("loading a LoRA needs the `peft` package: pip install peft") from None
    try:
        if src.kind == "file":
            pipe.load_lora_weights(str(Path(src.location).parent), weight_name=Path(src.location).name,
                                   adapter_name="style")
        else:
            pipe.load_lora_weights(src.location, adapter_name="style",
                                   local_files_only=src.kind == "folder" or offline())
        pipe.fuse_lora(lora_scale=scale, adapter_names=["style"])
        pipe.unload_lora_weights()
    except _loader_errors() as exc:
        raise _fail(src, "LoRA", exc) from None
    log.info("fused LoRA %s at scale %.2f", src.location, scale)
