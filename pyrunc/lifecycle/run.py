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
               preserve_fds=opts["preserve_fds"] or 0, subreaper=not detach)
    pid = c.pid
    master = _pty_master(c) if c.pty is not None else None
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
        _proxy(master, pid)
    status = wait_exit_status(pid)
    if not opts["keep"]:
        delete(ctx, cid, force=True, config=c.config)
    return status


def _pty_master(c):
    """The pty master the container's init sent over our socketpair."""
    import _socket
    import struct
    sock = c.pty
    try:
        _msg, anc, _flags, _addr = sock.recvmsg(4096, _socket.CMSG_SPACE(4))
    finally:
        sock.close()
    for level, kind, data in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            return struct.unpack("i", data[:4])[0]
    raise PyruncError("the container did not send its terminal")


def _proxy(master, pid):
    """Copy our stdin to the pty and the pty to our stdout until the init
    exits (its pidfd becomes readable); our terminal is raw meanwhile."""
    import select
    import os
    saved = None
    if os.isatty(0):
        import fcntl
        import termios
        saved = termios.tcgetattr(0)
        raw = termios.tcgetattr(0)
        raw[0] &= ~(termios.BRKINT | termios.ICRNL | termios.INPCK | termios.ISTRIP | termios.IXON)
        raw[2] = (raw[2] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
        raw[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN | termios.ISIG)
        termios.tcsetattr(0, termios.TCSAFLUSH, raw)
        try:
            fcntl.ioctl(master, termios.TIOCSWINSZ, fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8))
        except OSError:
            pass
    pidfd = os.pidfd_open(pid)
    p = select.poll()
    for fd in (0, master, pidfd):
        p.register(fd, select.POLLIN)
    try:
        done = False
        while not done:
            try:
                events = p.poll()
            except InterruptedError:
                continue
            for fd, ev in events:
                if fd == pidfd:
                    done = True
                elif fd == master:
                    try:
                        data = os.read(master, 65536)
                    except OSError:
                        data = b""
                    if data:
                        os.write(1, data)
                    else:
                        p.unregister(master)
                elif fd == 0:
                    data = os.read(0, 65536) if ev & select.POLLIN else b""
                    if data:
                        os.write(master, data)
                    else:
                        p.unregister(0)
        while True:         # what the process wrote before it exited
            r, _w, _x = select.select([master], [], [], 0)
            if not r:
                break
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            os.write(1, data)
    finally:
        os.close(pidfd)
        os.close(master)
        if saved is not None:
            import termios
            termios.tcsetattr(0, termios.TCSAFLUSH, saved)
