"""Several Python threads sharing a proc and a context; the GIL is released
while waiting."""
import threading
import time

import numpy as np

import veo


def run_threads(n, target):
    errors = []

    def wrapped(i):
        try:
            target(i)
        except BaseException as e:  # reported by the main thread
            errors.append(e)
    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_threads_share_one_context(ctx, kernel):
    echo = kernel("echo_i64", ["long"], "long")
    scale = kernel("scale", ["double *", "int", "double"], "void")

    def work(i):
        for j in range(300):
            assert echo(ctx, i * 1000 + j).wait_result() == i * 1000 + j
            a = np.full(64, float(j))
            scale(ctx, veo.OnStack(a, inout=veo.VEO_INTENT_INOUT), 64, i).wait_result()
            assert (a == float(j) * i).all()
    run_threads(8, work)


def test_threads_with_their_own_contexts_share_memory(proc, kernel):
    fill = kernel("fill", ["int *", "int", "int"], "void")
    n = 1024
    mem = proc.alloc_mem(8 * n * 4)

    def work(i):
        c = proc.open_context()
        part = veo.VEMemPtr(proc, mem.addr + i * n * 4, n * 4)
        fill(c, part, n, i * n).wait_result()
        proc.close_context(c)
    run_threads(8, work)
    out = np.zeros(8 * n, dtype=np.int32)
    proc.read_mem(out, mem, out.nbytes)
    proc.free_mem(mem)
    assert out.tolist() == list(range(8 * n))


def test_many_threads_waiting_for_the_same_request(ctx, kernel):
    sleep = kernel("sleep_ms", ["int"], "int")
    req = sleep(ctx, 100)
    results = []
    run_threads(4, lambda i: results.append(req.wait_result()))
    assert results == [100] * 4


def test_the_gil_is_released_while_waiting(proc, kernel):
    sleep = kernel("sleep_ms", ["int"], "int")
    c = proc.open_context()
    req = sleep(c, 500)
    waiter = threading.Thread(target=req.wait_result)
    start = time.monotonic()
    waiter.start()
    count = 0
    while time.monotonic() - start < 0.2:  # pure Python: needs the GIL
        count += 1
    assert waiter.is_alive(), "the kernel should still be running"
    assert count > 1000
    waiter.join()
    assert req.wait_result() == 500
    proc.close_context(c)


def test_async_transfers_from_threads(proc, ctx):
    mem = proc.alloc_mem(8 * 4096)

    def work(i):
        part = veo.VEMemPtr(proc, mem.addr + i * 4096, 4096)
        data = np.full(512, i, dtype=np.int64)
        for _ in range(50):
            ctx.async_write_mem(part, data, 4096).wait_result()
            back = np.zeros(512, dtype=np.int64)
            ctx.async_read_mem(back, part, 4096).wait_result()
            assert (back == i).all()
    run_threads(8, work)
    proc.free_mem(mem)
