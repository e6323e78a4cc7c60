"""Where things live: the project root and its data folders, in one place.

Nothing happens on import (no environment files read, no folders made). The root is the
folder holding ``pyproject.toml`` above the current directory, or ``EVALKIT_HOME`` when
set, so the CLI works from any sub-folder of a project.

Examples
--------
>>> from evalkit import paths
>>> paths.data_raw().name
'data_raw'
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["project_root", "data_raw", "data_clean", "reports", "notebooks", "demo_source", "truth_dir"]


def project_root(start: Path | None = None) -> Path:
    """The evalkit project folder: ``$EVALKIT_HOME`` or the nearest parent with a pyproject.toml."""
    env = os.environ.get("EVALKIT_HOME")
    if env:
        return Path(env).resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "evalkit").is_dir():
            return folder
    # Installed elsewhere: fall back to the package's own checkout, then to the cwd.
    pkg_root = Path(__file__).resolve().parent.parent
    if (pkg_root / "pyproject.toml").is_file():
        return pkg_root
    return here


def data_raw(root: Path | None = None) -> Path:
    return (root or project_root()) / "data_raw"


def data_clean(root: Path | None = None) -> Path:
    return (root or project_root()) / "data_clean"


def reports(root: Path | None = None) -> Path:
    return (root or project_root()) / "reports"


def notebooks(root: Path | None = None) -> Path:
    return (root or project_root()) / "notebooks"


def demo_source(root: Path | None = None) -> Path:
    """The folder ``evalkit synth`` writes the demo into by default."""
    return data_raw(root) / "demo"


def truth_dir(source: Path) -> Path:
    """Where the generator's truth for a synthetic source lives (tests read it, notebooks never)."""
    return Path(source) / "_truth"
