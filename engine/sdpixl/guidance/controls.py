"""ControlNet condition images: Canny edges (numpy/scipy, no OpenCV) and depth maps (DPT or user-supplied).

Every function returns H x W float32 in [0, 1]; ``to_condition`` turns one into a 1 x 3 x H x W tensor.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from scipy import ndimage

log = logging.getLogger(__name__)


def to_gray(image: np.ndarray) -> np.ndarray:
    """H x W x 3 (uint8 or float [0, 1]) -> H x W float64 luma on the 0..255 scale (ITU-R 601 weights)."""
    arr = np.asarray(image)
    scale = 1.0 if arr.dtype == np.uint8 else 255.0
    arr = arr.astype(np.float64) * scale
    if arr.ndim == 2:
        return arr
    return arr[..., 0] * 0.299 + arr[..., 1] * 0.587 + arr[..., 2] * 0.114


def canny(image: np.ndarray, low: float = 100.0, high: float = 200.0, blur_sigma: float = 1.0,
          upscale: float = 1.0) -> np.ndarray:
    """Canny edge map (H x W float32, 1 on edges) of an RGB or grey image on the 0..255 scale.

    Gaussian blur (``blur_sigma`` px; the reference blurs with radius 1), 3x3 Sobel gradients with the L1
    magnitude, non-maximum suppression along four directions, then hysteresis: weak edges
    (``low`` <= magnitude < ``high``) survive only when connected to a strong one.

    ``upscale``: how many pixels of ``image`` one pixel of the original picture spans (an enlarged picture: a
    patch-wise canvas). Enlarging by s spreads every edge over s pixels and divides its gradient by about s, so
    the thresholds would find almost nothing; gradients are measured per original pixel instead (times s), which
    finds the picture's own edges, drawn one pixel wide at this size (the blur is scaled alike, so it smooths the
    same detail as on the original).
    """
    s = max(1.0, float(upscale))
    gray = to_gray(image)
    if blur_sigma > 0:
        gray = ndimage.gaussian_filter(gray, blur_sigma * s, mode="nearest")
    gx = ndimage.sobel(gray, axis=1, mode="nearest") * s
    gy = ndimage.sobel(gray, axis=0, mode="nearest") * s
    mag = np.abs(gx) + np.abs(gy)
    angle = (np.rad2deg(np.arctan2(gy, gx)) + 180.0) % 180.0
    sector = np.zeros(mag.shape, dtype=np.int8)  # 0: horizontal gradient, 1: 45, 2: vertical, 3: 135 degrees
    sector[(angle >= 22.5) & (angle < 67.5)] = 1
    sector[(angle >= 67.5) & (angle < 112.5)] = 2
    sector[(angle >= 112.5) & (angle < 157.5)] = 3
    padded = np.pad(mag, 1, mode="constant")
    h, w = mag.shape

    def shifted(dy: int, dx: int) -> np.ndarray:
        return padded[1 + dy: 1 + dy + h, 1 + dx: 1 + dx + w]

    # Neighbours along the gradient direction for each sector (row, col offsets; y grows downwards).
    offsets = {0: (0, 1), 1: (1, 1), 2: (1, 0), 3: (1, -1)}
    keep = np.zeros(mag.shape, dtype=bool)
    for s, (dy, dx) in offsets.items():
        m = sector == s
        keep |= m & (mag > shifted(dy, dx)) & (mag >= shifted(-dy, -dx))
    thin = np.where(keep, mag, 0.0)
    strong = thin >= high
    weak = thin >= low
    labels, count = ndimage.label(weak, structure=np.ones((3, 3), dtype=bool))
    if count == 0:
        return np.zeros(mag.shape, dtype=np.float32)
    has_strong = np.zeros(count + 1, dtype=bool)
    has_strong[np.unique(labels[strong])] = True
    has_strong[0] = False
    return has_strong[labels].astype(np.float32)


def normalise_depth(depth: np.ndarray) -> np.ndarray:
    """Min-max normalise a depth map to [0, 1] (a flat map becomes all zeros)."""
    d = np.asarray(depth, dtype=np.float64)
    lo, hi = float(d.min()), float(d.max())
    if hi - lo < 1e-12:
        return np.zeros(d.shape, dtype=np.float32)
    return ((d - lo) / (hi - lo)).astype(np.float32)


def estimate_depth(image: np.ndarray, model, processor, size: tuple[int, int]) -> np.ndarray:
    """Depth of an RGB uint8 image with a transformers DPT model, resized to ``size`` (H, W), normalised."""
    from PIL import Image

    inputs = processor(images=Image.fromarray(np.asarray(image, dtype=np.uint8)), return_tensors="pt")
    param = next(model.parameters())
    inputs = {k: v.to(param.device, param.dtype) if v.is_floating_point() else v.to(param.device)
              for k, v in inputs.items()}
    with torch.no_grad():
        pred = model(**inputs).predicted_depth.cpu()
    pred = torch.nn.functional.interpolate(pred[:, None].float(), size=size, mode="bicubic", align_corners=False)
    return normalise_depth(pred[0, 0].numpy())


def to_condition(plane: np.ndarray) -> torch.Tensor:
    """H x W [0, 1] plane -> 1 x 3 x H x W float32 tensor (the grey value in all three channels)."""
    t = torch.as_tensor(np.asarray(plane, dtype=np.float32))
    return t[None, None].expand(1, 3, *t.shape).contiguous()
