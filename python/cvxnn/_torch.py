"""Export of a fitted ReLU network to PyTorch (imported only when asked for)."""

from __future__ import annotations

import numpy as np


def _import_torch():
    try:
        import torch
    except ImportError as error:  # torch is optional: everything else works without it
        raise ImportError("to_torch needs PyTorch: install it (Debian: apt install python3-torch)") from error
    return torch


def to_torch(model):
    """``nn.Sequential(Linear(d, m), ReLU(), Linear(m, c))`` in float64 that maps raw features to
    predictions in the data's units, i.e. computes ``model.predict``.

    The model's network acts on ``[(x − μ)/σ, 1]`` and predicts standardised targets; folding the
    affine maps into the layers gives first layer ``A = W1[:, :d]/σ``, bias ``W1[:, d] − A μ`` and
    second layer ``τ ⊙ W2`` with bias the target centre (τ the target scales)."""
    network = model.network
    if network.gates is not None:
        raise ValueError("to_torch exports ReLU networks; this is a gated ReLU network (each unit computes "
                         "1[x·g >= 0] (x·w) with its own gate g), which Linear-ReLU-Linear cannot represent: "
                         "fit with formulation='relu' to get a ReLU network")
    torch = _import_torch()
    p = model.preprocessing
    W1, W2 = network.W1, network.W2
    d = len(p["center"])
    A = W1[:, :d] / p["scale"][np.newaxis, :]
    b1 = (W1[:, d] if p["bias"] else np.zeros(W1.shape[0])) - A @ p["center"]
    W2_out = W2 * p["target_scale"][:, np.newaxis]
    b2 = np.array(p["target_center"], dtype=np.float64)

    first = torch.nn.Linear(d, W1.shape[0], dtype=torch.float64)
    second = torch.nn.Linear(W1.shape[0], W2.shape[0], dtype=torch.float64)
    with torch.no_grad():
        first.weight.copy_(torch.from_numpy(np.ascontiguousarray(A)))
        first.bias.copy_(torch.from_numpy(np.ascontiguousarray(b1)))
        second.weight.copy_(torch.from_numpy(np.ascontiguousarray(W2_out)))
        second.bias.copy_(torch.from_numpy(b2))
    return torch.nn.Sequential(first, torch.nn.ReLU(), second)
