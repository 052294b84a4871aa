"""Colour science: sRGB <-> linear <-> XYZ (D65) <-> CIELAB and CIEDE2000.

Every function exists twice: a numpy version (arrays ``[..., 3]``) and a torch version
(suffix ``_t``) that is differentiable, for the optimiser. sRGB values are floats in [0, 1].
"""

from __future__ import annotations

import numpy as np

# D65 reference white (CIE 1931 2 degree observer), XYZ scaled so that Y = 1.
D65_WHITE = np.array([0.95047, 1.0, 1.08883])

# IEC 61966-2-1 sRGB (linear) -> XYZ matrix.
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)

_LAB_EPS = 216.0 / 24389.0
_LAB_KAPPA = 24389.0 / 27.0


# --------------------------------------------------------------------------- numpy


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """Undo the sRGB transfer curve (values in [0, 1])."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    """Apply the sRGB transfer curve (values in [0, 1], clipped)."""
    lin = np.clip(np.asarray(lin, dtype=np.float64), 0.0, 1.0)
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1.0 / 2.4) - 0.055)


def linear_to_xyz(lin: np.ndarray) -> np.ndarray:
    """Linear sRGB to CIE XYZ (D65)."""
    return np.asarray(lin, dtype=np.float64) @ _RGB_TO_XYZ.T


def xyz_to_linear(xyz: np.ndarray) -> np.ndarray:
    """CIE XYZ (D65) to linear sRGB (unclipped)."""
    return np.asarray(xyz, dtype=np.float64) @ _XYZ_TO_RGB.T


def xyz_to_lab(xyz: np.ndarray) -> np.ndarray:
    """CIE XYZ (D65) to CIELAB."""
    t = np.asarray(xyz, dtype=np.float64) / D65_WHITE
    f = np.where(t > _LAB_EPS, np.cbrt(t), (_LAB_KAPPA * t + 16.0) / 116.0)
    L = 116.0 * f[..., 1] - 16.0
    a = 500.0 * (f[..., 0] - f[..., 1])
    b = 200.0 * (f[..., 1] - f[..., 2])
    return np.stack([L, a, b], axis=-1)


def linear_to_lab(lin: np.ndarray) -> np.ndarray:
    """Linear sRGB (unclipped, e.g. averaged light) to CIELAB (D65)."""
    return xyz_to_lab(linear_to_xyz(lin))


def lab_to_xyz(lab: np.ndarray) -> np.ndarray:
    """CIELAB to CIE XYZ (D65)."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16.0) / 116.0
    fx = fy + lab[..., 1] / 500.0
    fz = fy - lab[..., 2] / 200.0
    f = np.stack([fx, fy, fz], axis=-1)
    t = np.where(f**3 > _LAB_EPS, f**3, (116.0 * f - 16.0) / _LAB_KAPPA)
    return t * D65_WHITE


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] to CIELAB (D65)."""
    return xyz_to_lab(linear_to_xyz(srgb_to_linear(rgb)))


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """CIELAB (D65) to sRGB in [0, 1] (out-of-gamut values are clipped)."""
    return linear_to_srgb(xyz_to_linear(lab_to_xyz(lab)))


def srgb8_to_lab(rgb8: np.ndarray) -> np.ndarray:
    """8-bit sRGB (0..255) to CIELAB."""
    return srgb_to_lab(np.asarray(rgb8, dtype=np.float64) / 255.0)


def ciede2000(lab1: np.ndarray, lab2: np.ndarray, kL: float = 1.0, kC: float = 1.0, kH: float = 1.0) -> np.ndarray:
    """CIEDE2000 colour difference between broadcastable Lab arrays ``[..., 3]``.

    Follows Sharma, Wu & Dalal (2005), including their notes on hue angle means and
    differences when a chroma is zero.
    """
    lab1 = np.asarray(lab1, dtype=np.float64)
    lab2 = np.asarray(lab2, dtype=np.float64)
    L1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    L2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]

    C1 = np.hypot(a1, b1)
    C2 = np.hypot(a2, b2)
    C_mean = (C1 + C2) / 2.0
    C7 = C_mean**7
    G = 0.5 * (1.0 - np.sqrt(C7 / (C7 + 25.0**7)))
    a1p = (1.0 + G) * a1
    a2p = (1.0 + G) * a2
    C1p = np.hypot(a1p, b1)
    C2p = np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360.0

    dLp = L2 - L1
    dCp = C2p - C1p
    chroma_zero = (C1p * C2p) == 0
    dh = h2p - h1p
    dh = np.where(dh > 180.0, dh - 360.0, np.where(dh < -180.0, dh + 360.0, dh))
    dh = np.where(chroma_zero, 0.0, dh)
    dHp = 2.0 * np.sqrt(C1p * C2p) * np.sin(np.radians(dh) / 2.0)

    Lp_mean = (L1 + L2) / 2.0
    Cp_mean = (C1p + C2p) / 2.0
    h_sum = h1p + h2p
    h_abs = np.abs(h1p - h2p)
    hp_mean = np.where(
        h_abs <= 180.0, h_sum / 2.0, np.where(h_sum < 360.0, (h_sum + 360.0) / 2.0, (h_sum - 360.0) / 2.0)
    )
    hp_mean = np.where(chroma_zero, h_sum, hp_mean)

    T = (
        1.0
        - 0.17 * np.cos(np.radians(hp_mean - 30.0))
        + 0.24 * np.cos(np.radians(2.0 * hp_mean))
        + 0.32 * np.cos(np.radians(3.0 * hp_mean + 6.0))
        - 0.20 * np.cos(np.radians(4.0 * hp_mean - 63.0))
    )
    d_theta = 30.0 * np.exp(-(((hp_mean - 275.0) / 25.0) ** 2))
    Cp7 = Cp_mean**7
    R_C = 2.0 * np.sqrt(Cp7 / (Cp7 + 25.0**7))
    L50 = (Lp_mean - 50.0) ** 2
    S_L = 1.0 + 0.015 * L50 / np.sqrt(20.0 + L50)
    S_C = 1.0 + 0.045 * Cp_mean
    S_H = 1.0 + 0.015 * Cp_mean * T
    R_T = -np.sin(np.radians(2.0 * d_theta)) * R_C

    tL = dLp / (kL * S_L)
    tC = dCp / (kC * S_C)
    tH = dHp / (kH * S_H)
    return np.sqrt(tL**2 + tC**2 + tH**2 + R_T * tC * tH)


def nearest_palette_match(lab: np.ndarray, palette_lab: np.ndarray, chunk: int = 65536
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Exact CIEDE2000-nearest palette colour for every Lab value in ``lab[..., 3]``: (indices, ΔE2000).

    Identical colours are matched once (the work scales with unique colours, not pixels). For speed on
    whole pictures with large palettes, ``engine.core.palette_select.nearest_candidates`` pre-selects by Lab distance.
    """
    lab = np.asarray(lab, dtype=np.float64)
    flat = lab.reshape(-1, 3)
    # Quantise to 1e-3 Lab units to find repeats cheaply; a far finer step than any visible difference.
    keys = np.round(flat * 1000.0).astype(np.int64)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    uniq_lab = uniq.astype(np.float64) / 1000.0
    idx = np.empty(len(uniq_lab), dtype=np.int64)
    dist = np.empty(len(uniq_lab), dtype=np.float64)
    pal = np.asarray(palette_lab, dtype=np.float64)[None, :, :]
    step = max(1, chunk // max(1, pal.shape[1]))
    for start in range(0, len(uniq_lab), step):
        de = ciede2000(uniq_lab[start : start + step, None, :], pal)
        best = np.argmin(de, axis=1)
        idx[start : start + step] = best
        dist[start : start + step] = de[np.arange(len(best)), best]
    inverse = inverse.reshape(-1)
    return idx[inverse].reshape(lab.shape[:-1]), dist[inverse].reshape(lab.shape[:-1])


def nearest_palette_index(lab: np.ndarray, palette_lab: np.ndarray) -> np.ndarray:
    """Index of the exact CIEDE2000-nearest palette colour for every Lab value in ``lab[..., 3]``."""
    return nearest_palette_match(lab, palette_lab)[0]


# --------------------------------------------------------------------------- torch


def _torch():
    import torch

    return torch


def srgb_to_linear_t(rgb):
    """Torch: undo the sRGB transfer curve (differentiable)."""
    torch = _torch()
    rgb = rgb.clamp(0.0, 1.0)
    return torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055).clamp_min(1e-12) ** 2.4)


def linear_to_srgb_t(lin):
    """Torch: apply the sRGB transfer curve (differentiable)."""
    torch = _torch()
    lin = lin.clamp(0.0, 1.0)
    return torch.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin.clamp_min(1e-12) ** (1.0 / 2.4) - 0.055)


def srgb_to_lab_t(rgb):
    """Torch: sRGB ``[..., 3]`` in [0, 1] to CIELAB (differentiable)."""
    torch = _torch()
    lin = srgb_to_linear_t(rgb)
    m = torch.as_tensor(_RGB_TO_XYZ, dtype=rgb.dtype, device=rgb.device)
    white = torch.as_tensor(D65_WHITE, dtype=rgb.dtype, device=rgb.device)
    t = (lin @ m.T) / white
    f = torch.where(t > _LAB_EPS, t.clamp_min(_LAB_EPS) ** (1.0 / 3.0), (_LAB_KAPPA * t + 16.0) / 116.0)
    L = 116.0 * f[..., 1] - 16.0
    a = 500.0 * (f[..., 0] - f[..., 1])
    b = 200.0 * (f[..., 1] - f[..., 2])
    return torch.stack([L, a, b], dim=-1)


def ciede2000_t(lab1, lab2, kL: float = 1.0, kC: float = 1.0, kH: float = 1.0, eps: float = 1e-10):
    """Torch: CIEDE2000 between broadcastable Lab tensors (differentiable almost everywhere)."""
    torch = _torch()
    deg = 180.0 / torch.pi
    rad = torch.pi / 180.0
    L1, a1, b1 = lab1.unbind(-1)
    L2, a2, b2 = lab2.unbind(-1)
    C1 = torch.sqrt(a1**2 + b1**2 + eps)
    C2 = torch.sqrt(a2**2 + b2**2 + eps)
    C7 = ((C1 + C2) / 2.0) ** 7
    G = 0.5 * (1.0 - torch.sqrt(C7 / (C7 + 25.0**7)))
    a1p = (1.0 + G) * a1
    a2p = (1.0 + G) * a2
    C1p = torch.sqrt(a1p**2 + b1**2 + eps)
    C2p = torch.sqrt(a2p**2 + b2**2 + eps)
    h1p = torch.remainder(torch.atan2(b1, a1p) * deg, 360.0)
    h2p = torch.remainder(torch.atan2(b2, a2p) * deg, 360.0)
    dLp = L2 - L1
    dCp = C2p - C1p
    dh = h2p - h1p
    dh = torch.where(dh > 180.0, dh - 360.0, torch.where(dh < -180.0, dh + 360.0, dh))
    dHp = 2.0 * torch.sqrt(C1p * C2p) * torch.sin(dh * rad / 2.0)
    Lp_mean = (L1 + L2) / 2.0
    Cp_mean = (C1p + C2p) / 2.0
    h_sum = h1p + h2p
    hp_mean = torch.where(
        (h1p - h2p).abs() <= 180.0,
        h_sum / 2.0,
        torch.where(h_sum < 360.0, (h_sum + 360.0) / 2.0, (h_sum - 360.0) / 2.0),
    )
    T = (
        1.0
        - 0.17 * torch.cos((hp_mean - 30.0) * rad)
        + 0.24 * torch.cos(2.0 * hp_mean * rad)
        + 0.32 * torch.cos((3.0 * hp_mean + 6.0) * rad)
        - 0.20 * torch.cos((4.0 * hp_mean - 63.0) * rad)
    )
    d_theta = 30.0 * torch.exp(-(((hp_mean - 275.0) / 25.0) ** 2))
    Cp7 = Cp_mean**7
    R_C = 2.0 * torch.sqrt(Cp7 / (Cp7 + 25.0**7))
    L50 = (Lp_mean - 50.0) ** 2
    S_L = 1.0 + 0.015 * L50 / torch.sqrt(20.0 + L50)
    S_C = 1.0 + 0.045 * Cp_mean
    S_H = 1.0 + 0.015 * Cp_mean * T
    R_T = -torch.sin(2.0 * d_theta * rad) * R_C
    tL = dLp / (kL * S_L)
    tC = dCp / (kC * S_C)
    tH = dHp / (kH * S_H)
    return torch.sqrt((tL**2 + tC**2 + tH**2 + R_T * tC * tH).clamp_min(eps))
