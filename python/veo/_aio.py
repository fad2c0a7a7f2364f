"""await for VeoRequest: a kernel's result without blocking the event loop.

    async def main():
        r = await lib.average(ctx, OnStack(a), a.size)
        both = await asyncio.gather(lib.f(ctx, 1), lib.f(ctx2, 2))

No thread waits. For each event loop and proc one _Watcher puts the
proc's completion descriptor (veo_proc_completion_fd: readable when a
request of a context with notifications on completes, or when the worker
ends) into the loop, switches notifications on for the contexts it has
requests of, and when the descriptor turns readable peeks at those
requests (peek_result) and resolves their futures. A short timer, backing
off from 1 ms to 50 ms while requests are awaited, peeks too: a completion
that raced the switching on may be signalled late (ve_offload.h). Failures
raise from the await as they do from wait_result.
"""
import asyncio
import weakref

from veo import _veo

_FIRST_DELAY = 0.001
_MAX_DELAY = 0.05

# loop -> {proc: _Watcher}
_watchers = weakref.WeakKeyDictionary()


class _Watcher:
    def __init__(self, loop, proc):
        self.loop, self.proc = loop, proc
        self.fd = _veo._completion_fd(proc)
        self.awaited = {}   # request -> future
        self.contexts = {}  # context -> how many of its requests are awaited
        self.timer = None
        self.delay = _FIRST_DELAY
        loop.add_reader(self.fd, self._readable)

    def add(self, req):
        fut = self.loop.create_future()
        ctx = req.ctx
        if not self.contexts.get(ctx):
            _veo._notify(ctx, True)
        self.contexts[ctx] = self.contexts.get(ctx, 0) + 1
        self.awaited[req] = fut
        fut.add_done_callback(lambda f, req=req: self._forget(req))
        self._peek()
        return fut

    def _forget(self, req):
        if self.awaited.pop(req, None) is None:
            return
        ctx = req.ctx
        self.contexts[ctx] -= 1
        if not self.contexts[ctx]:
            del self.contexts[ctx]
            try:
                _veo._notify(ctx, False)
            except Exception:  # closed meanwhile: nothing to switch off
                pass
        if not self.awaited:
            self._close()

    def _close(self):
        self.loop.remove_reader(self.fd)
        if self.timer:
            self.timer.cancel()
            self.timer = None
        procs = _watchers.get(self.loop)
        if procs is not None and procs.get(self.proc) is self:
            del procs[self.proc]

    def _readable(self):
        try:
            _veo._completion_ack(self.proc)
        except Exception:  # the proc closed: the peeks below say so
            pass
        self.delay = _FIRST_DELAY
        self._peek()

    def _tick(self):
        self.timer = None
        self.delay = min(self.delay * 2, _MAX_DELAY)
        self._peek()

    def _peek(self):
        for req, fut in list(self.awaited.items()):
            if fut.done():
                continue
            try:
                value = req.peek_result()
            except NameError:  # unfinished: py-veo's convention
                continue
            except BaseException as e:  # failed: raised from the await
                fut.set_exception(e)
            else:
                fut.set_result(value)
        if self.awaited and self.timer is None:
            self.timer = self.loop.call_later(self.delay, self._tick)


async def wait(req):
    """The result of req, awaited (VeoRequest.__await__)."""
    if req.done:
        return req.wait_result()
    try:
        return req.peek_result()
    except NameError:
        pass
    loop = asyncio.get_running_loop()
    procs = _watchers.setdefault(loop, {})
    proc = req.ctx.proc
    watcher = procs.get(proc)
    if watcher is None:
        watcher = procs[proc] = _Watcher(loop, proc)
    return await watcher.add(req)
