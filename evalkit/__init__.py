"""evalkit: evaluate programmes that keep children in their birth families.

The data flow and where each step lives (import the module you need; nothing heavy
happens on ``import evalkit``)::

    data_raw/<source>/  --evalkit.clean-->  data_clean/<dataset>/  --frames-->  analyses  --notebooks-->  reports/
    (evalkit.mapping, .readers, .normalise,   (evalkit.dataset,        (evalkit.frames)  (see below)   (evalkit.report,
     .pseudonymise)                            .schemas, .labels)                                        .privacy)

What a notebook may call: :mod:`evalkit.dataset` (``read_dataset``, ``read_manifest``),
:mod:`evalkit.frames`, the analyses — :mod:`evalkit.quality`, :mod:`evalkit.indicators`,
:mod:`evalkit.longitudinal`, :mod:`evalkit.survival`, :mod:`evalkit.interval`,
:mod:`evalkit.competing`, :mod:`evalkit.factors` (:mod:`evalkit.coxph` is their Cox engine) —
:mod:`evalkit.labels`, :mod:`evalkit.privacy` (every published table and count goes through it)
and :mod:`evalkit.report` (``record`` of headline numbers). Notebooks never read ``data_raw/``
and never the synthetic truth (:mod:`evalkit.synth`).
"""

from __future__ import annotations

__version__ = "0.1.0"

from evalkit import labels, paths  # noqa: E402  (light modules only; no side effects)

__all__ = ["__version__", "labels", "paths"]
