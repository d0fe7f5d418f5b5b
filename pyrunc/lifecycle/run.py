"""run: create + start (+ wait, forwarding signals, + delete)."""
import os

import _signal   # not `signal`: it imports enum, milliseconds on every run

from pyrunc.errors import PyruncError

# every catchable signal except the job-control, fault and child ones
_FORWARD = tuple(s for s in range(1, 32) if s not in (4, 7, 8, 9, 11, 17, 19, 20, 21, 22))


def run(ctx, cid, opts):
    from pyrunc.lifecycle.create import create
    from pyrunc.lifecycle.delete import delete
    from pyrunc.lifecycle.start import start
    detach = opts["detach"]
    c = create(ctx, cid, opts["bundle"] or ".", pid_file=opts["pid_file"],
               console_socket=opts["console_socket"], no_pivot=opts["no_pivot"],
               preserve_fds=opts["preserve_fds"] or 0, subreaper=not detach)
    pid = c.pid
    if not detach:
        # forward signals from now on, so none is lost between start and wait
        def forward(sig, _frame):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        for s in _FORWARD:
            try:
                _signal.signal(s, forward)
            except (OSError, ValueError):
                pass
    try:
        start(ctx, cid, c.config)
    except BaseException:
        try:
            delete(ctx, cid, force=True, config=c.config)
        except PyruncError:
            pass
        raise
    if detach:
        return 0
    status = _wait(pid)
    if not opts["keep"]:
        delete(ctx, cid, force=True, config=c.config)
    return status


def _wait(pid):
    """Reap children (we are their subreaper) until the init exits."""
    while True:
        try:
            p, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 255
        except InterruptedError:
            continue
        if p == pid:
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code
