"""await on requests: results without blocking the event loop (veo._aio)."""
import asyncio
import time

import numpy as np
import pytest

import veo


@pytest.fixture
def sleep_ms(lib):
    f = lib.sleep_ms
    f.args_type("int")
    f.ret_type("int")
    return f


def test_await_returns_the_result_while_another_task_runs(ctx, sleep_ms):
    ticks = []

    async def ticker(stop):
        while not stop.is_set():
            ticks.append(time.monotonic())
            await asyncio.sleep(0.005)

    async def main():
        stop = asyncio.Event()
        t = asyncio.create_task(ticker(stop))
        start = time.monotonic()
        result = await sleep_ms(ctx, 300)
        took = time.monotonic() - start
        stop.set()
        await t
        return result, took, [x for x in ticks if start <= x <= start + took]

    result, took, during = asyncio.run(main())
    assert result == 300
    assert took >= 0.3
    # The loop went on while the kernel ran: the ticker ran many times
    # (every 5 ms at best; a loaded machine gets fewer, never one or none).
    assert len(during) >= 5, (len(during), took)


def test_gather_of_many_requests_on_two_contexts(proc, lib):
    f = lib.echo_i64
    f.args_type("int64_t")
    f.ret_type("int64_t")
    c1, c2 = proc.open_context(), proc.open_context()

    async def main():
        reqs = [f(c1 if i % 2 else c2, i * 7) for i in range(200)]
        return await asyncio.gather(*reqs)

    try:
        assert asyncio.run(main()) == [i * 7 for i in range(200)]
    finally:
        proc.close_context(c1)
        proc.close_context(c2)


def test_await_of_a_finished_or_collected_request(ctx, lib):
    f = lib.echo_i64
    f.args_type("int64_t")
    f.ret_type("int64_t")
    req = f(ctx, 5)
    assert req.wait_result() == 5

    async def main():
        return await req, await f(ctx, 6)

    assert asyncio.run(main()) == (5, 6)


def test_a_crash_raises_from_the_await(kernels_so):
    p = veo.VeoProc(0)
    try:
        lib = p.load_library(kernels_so)
        ctx = p.open_context()
        lib.sleep_ms.args_type("int")
        lib.crash_segv.args_type()
        slow = lib.sleep_ms(ctx, 60000)  # still running when the other context crashes
        other = p.open_context()

        async def main():
            crash = lib.crash_segv(other)
            with pytest.raises(veo.VeoException) as e:
                await crash
            assert e.value.signal == "SIGSEGV"
            with pytest.raises(veo.VeoError):
                await slow  # the worker is gone: fails at once, not in 60 s

        start = time.monotonic()
        asyncio.run(main())
        assert time.monotonic() - start < 30
    finally:
        p.close()


def test_a_cancelled_await_leaves_the_request_to_wait_for(ctx, sleep_ms):
    async def main():
        req = sleep_ms(ctx, 200)
        task = asyncio.ensure_future(req)
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return req

    req = asyncio.run(main())
    assert req.wait_result() == 200
