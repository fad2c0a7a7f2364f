"""examples/notebook/openveo_tour.ipynb runs from top to bottom in a real Jupyter kernel."""
import os
import shutil

import nbclient
import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
NOTEBOOK = os.path.join(HERE, "..", "..", "examples", "notebook", "openveo_tour.ipynb")


def test_the_example_notebook_runs_and_shows_what_it_says(tmp_path):
    shutil.copy(NOTEBOOK, tmp_path)
    nb = nbformat.read(str(tmp_path / "openveo_tour.ipynb"), as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        "the example is committed with its outputs stripped"
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    text = ["".join(o.get("text", "") for o in c.outputs) for c in code]
    avg, numpy_avg = map(float, text[2].split())
    assert abs(avg - numpy_avg) < 1e-12
    assert text[4].strip() == "[0. 2. 4. 6. 8.]"
    assert text[5].splitlines()[-1] == "[0. 1. 2. 3. 4.]"
    assert text[7].strip() == "SIGSEGV in crash"
