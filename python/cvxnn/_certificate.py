"""The certificate every cvxnn fit ends with (design notes §2)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Certificate:
    """Proof of how close a model is to the optimum of its convex program.

    ``primal`` is the objective of the model being certified, ``dual`` a certified lower bound on
    the program's optimum, ``gap = primal - dual`` and ``relative_gap = gap / primal``. With
    ``scope == "global"`` (patterns enumerated exactly, one output, gated or relu program) the
    bound holds for every two-layer ReLU network of any width with the same weight decay;
    with ``scope == "patterns"`` it holds for networks whose units use the given patterns.
    ``constraint_violation`` is the largest cone-constraint violation of the convex iterate (0 for
    gated programs).
    """

    primal: float
    dual: float
    gap: float
    relative_gap: float
    scope: str
    constraint_violation: float = 0.0

    @classmethod
    def from_dict(cls, fields: dict) -> "Certificate":
        return cls(**{name: fields[name] for name in cls.__dataclass_fields__ if name in fields})

    def __str__(self) -> str:
        return (f"primal {self.primal:.10g}, dual {self.dual:.10g}, gap {self.gap:.3e} "
                f"(relative {self.relative_gap:.3e}), scope {self.scope}")
