"""evalkit: evaluate programmes that keep children in their birth families.

The public face a notebook may call. Raw exports are cleaned into the canonical tables
(:mod:`evalkit.schemas`), labels come from :mod:`evalkit.labels`, and the synthetic demo
with its known truth from :mod:`evalkit.synth`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from evalkit import labels, paths  # noqa: E402  (light modules only; no side effects)

__all__ = ["__version__", "labels", "paths"]
