"""A notebook run through a real Jupyter kernel (ipykernel, driven by nbclient).

What a notebook user does in one sitting: build a kernel and call it, see
its printf in the cell that called it, interrupt a wait that takes too long
(the notebook's interrupt button sends SIGINT to the kernel's process
group, as nbclient does here on a cell's timeout), and carry on in the
next cell with the same proc: the interrupted request still gives its
result, and nothing the kernel printed lands in the wrong cell.
"""
import nbclient
import nbformat
from nbformat.v4 import new_code_cell, new_notebook

SETUP = r'''
import os, tempfile
import numpy as np
import veo

bld = veo.VeBuild()
bld.set_build_dir(tempfile.mkdtemp(prefix="nb_kernels_"))
bld.set_c_src("nbk", """
#include <stdio.h>
#include <unistd.h>
int hello(int i) { printf("hello %d from the kernel\\n", i); return i; }
int wait_flag(volatile long *flag) { while (!*flag) usleep(1000); return 42; }
""")
so = os.path.abspath(bld.build_so())
proc = veo.VeoProc(0)
ctx = proc.open_context()
lib = proc.load_library(so)
lib.hello.args_type("int")
lib.wait_flag.args_type("long *")
flag = proc.alloc_mem(8)
proc.write_mem(flag, np.zeros(1, np.int64), 8)
'''

CALL = r'''
print("before")
r = lib.hello(ctx, 1).wait_result()
print("after", r)
'''

LONG_WAIT = r'''
req = lib.wait_flag(ctx, flag)
req.wait_result()
'''

CONTINUE = r'''
proc.write_mem(flag, np.ones(1, np.int64), 8)
print("resumed", req.wait_result())
print("again", lib.hello(ctx, 2).wait_result())
'''

LAST = r'''
print("last cell")
proc.close()
'''


def stdout_of(cell):
    return "".join(o.get("text", "") for o in cell.outputs
                   if o.output_type == "stream" and o.name == "stdout")


def errors_of(cell):
    return [o.ename for o in cell.outputs if o.output_type == "error"]


def test_notebook_output_interrupt_and_continue(tmp_path):
    cells = [new_code_cell(SETUP), new_code_cell(CALL), new_code_cell(LONG_WAIT),
             new_code_cell(CONTINUE), new_code_cell(LAST)]
    cells[2].metadata["interrupt_after"] = 5
    nb = new_notebook(cells=cells)
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
        timeout_func=lambda cell: cell.metadata.get("interrupt_after", 300),
        resources={"metadata": {"path": str(tmp_path)}})
    client.execute()

    setup, call, long_wait, cont, last = nb.cells
    assert errors_of(setup) == [], setup.outputs
    assert stdout_of(call) == "before\nhello 1 from the kernel\nafter 1\n"
    assert errors_of(long_wait) == ["KeyboardInterrupt"], long_wait.outputs
    assert errors_of(cont) == [], cont.outputs
    assert stdout_of(cont) == "resumed 42\nhello 2 from the kernel\nagain 2\n"
    assert errors_of(last) == [], last.outputs
    assert stdout_of(last) == "last cell\n"
    nbformat.validate(nb)
