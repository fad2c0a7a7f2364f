"""%%veo in a real Jupyter kernel: a kernel in a cell, callable at once."""
import nbclient
from nbformat.v4 import new_code_cell, new_notebook

AVERAGE = r'''%%veo
double average(double *a, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += a[i];
    return s / n;
}
'''

EDITED = AVERAGE.replace("return s / n;", "return s;")  # now the sum

BROKEN = r'''%%veo
double broken(double x) { return x +; }
'''

FORTRAN = r'''%%veo --lang fortran
function twice(x) result(y)
  double precision, intent(in) :: x
  double precision :: y
  y = 2 * x
end function
'''


def run(cells):
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=300).execute()
    return nb.cells


def out(cell):
    errors = [(o.ename, o.evalue) for o in cell.outputs if o.output_type == "error"]
    assert not errors, errors
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream") + \
        "".join(o.data.get("text/plain", "") for o in cell.outputs
                if o.output_type == "execute_result")


def test_a_cell_kernel_runs_reruns_after_an_edit_and_reports_compiler_errors():
    cells = run([
        "%load_ext veo\nimport numpy as np\nimport veo\nfrom veo import OnStack\n"
        "a = np.random.rand(1000)",
        AVERAGE,
        "print(abs(average(OnStack(a), a.size) - np.average(a)) < 1e-12)",
        "req = average.submit(OnStack(a), a.size)\n"
        "print(type(req).__name__, type(average.function).__name__)\nold = average",
        EDITED,
        "print(abs(average(OnStack(a), a.size) - a.sum()) < 1e-9)\n"
        "try:\n    old(OnStack(a), a.size)\nexcept veo.VeoError as e:\n    print('old:', e)",
        BROKEN,
        FORTRAN,
        "print(twice(OnStack(np.array([21.0]))))",
    ])
    assert out(cells[2]) == "True\n"
    assert out(cells[3]) == "VeoRequest VeoFunction\n"
    shown = out(cells[5]).splitlines()
    assert shown[0] == "True" and shown[1].startswith("old: ") and "unloaded" in shown[1]
    errors = [o for o in cells[6].outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == ["CellBuildError"]
    assert "the compiler failed" in errors[0].evalue
    assert "expected expression" in errors[0].evalue  # the compiler's own words
    shown = "\n".join(errors[0].traceback)
    assert "expected expression" in shown
    assert "Traceback" not in shown and "vebuild.py" not in shown
    assert out(cells[8]) == "42.0\n"
