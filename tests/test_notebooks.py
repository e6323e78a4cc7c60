"""The study notebooks run under papermill on the demo dataset and are committed clean."""

from __future__ import annotations

import json
from pathlib import Path

import papermill as pm
import pytest

from evalkit.clean import clean_sources
from evalkit.dataset import write_dataset

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_dataset(demo_source, tmp_path_factory):
    result = clean_sources([demo_source / "org_a", demo_source / "org_b"], bytes(range(32)))
    return write_dataset(result, tmp_path_factory.mktemp("clean") / "demo")


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_data_quality_notebook_runs_on_the_demo(demo_dataset, tmp_path, lang):
    out = tmp_path / "dq.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks" / "00_data_quality.ipynb"), str(out),
                        parameters={"dataset": str(demo_dataset), "lang": lang}, progress_bar=False,
                        cwd=str(ROOT))
    nb = json.loads(out.read_text(encoding="utf-8"))
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "balanced" in html and "False" not in html.split("balanced", 1)[1][:2000]
