"""The synthetic population is calibrated to the seeds, and docs/calibration.md says so."""

from __future__ import annotations

from pathlib import Path

from evalkit.calibration import TARGETS, render_calibration

DOC = Path(__file__).resolve().parent.parent / "docs" / "calibration.md"


def test_every_target_holds_on_a_large_sample_and_the_doc_is_current():
    text = render_calibration()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) == len(TARGETS)
    large = [r.split("|")[5].strip() for r in rows]
    failed = [r for r, v in zip(rows, large) if not v.endswith("✓")]
    assert not failed, "calibration targets missed:\n" + "\n".join(failed)
    assert DOC.read_text(encoding="utf-8") == text, "docs/calibration.md is stale: run `evalkit calibrate --out docs/calibration.md`"
