"""run: create + start (+ wait, forwarding signals, + delete)."""
from pyrunc.errors import PyruncError
from pyrunc.lifecycle.common import forward_signals, wait_exit_status


def run(ctx, cid, opts):
    from pyrunc.lifecycle.create import create
    from pyrunc.lifecycle.delete import delete
    from pyrunc.lifecycle.start import start
    detach = opts["detach"]
    c = create(ctx, cid, opts["bundle"] or ".", pid_file=opts["pid_file"],
               console_socket=opts["console_socket"], no_pivot=opts["no_pivot"],
               pidfd_socket=opts["pidfd_socket"],
               preserve_fds=opts["preserve_fds"] or 0, subreaper=not detach)
    pid = c.pid
    master = None
    if c.pty is not None:
        from pyrunc.lifecycle.tty import receive_master
        master = receive_master(c.pty)
    if not detach:
        forward_signals(pid)    # from now on, so none is lost between start and wait
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
    if master is not None:
        from pyrunc.lifecycle.tty import proxy
        proxy(master, pid)
    status = wait_exit_status(pid)
    if not opts["keep"]:
        delete(ctx, cid, force=True, config=c.config)
    return status
