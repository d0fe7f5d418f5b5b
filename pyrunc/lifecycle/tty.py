"""A terminal for `run` and `exec` in the foreground without
--console-socket: pyrunc is the console socket's other end, takes the pty
master and proxies it to its own stdio (runc does the same)."""
from pyrunc.errors import PyruncError


def receive_master(sock):
    """The pty master the container's process sent over our socketpair."""
    import _socket
    import struct
    try:
        _msg, anc, _flags, _addr = sock.recvmsg(4096, _socket.CMSG_SPACE(4))
    finally:
        sock.close()
    for level, kind, data in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            return struct.unpack("i", data[:4])[0]
    raise PyruncError("the container did not send its terminal")


def proxy(master, pid):
    """Copy our stdin to the pty and the pty to our stdout until the init
    exits (its pidfd becomes readable); our terminal is raw meanwhile."""
    import select
    import os
    from pyrunc.lifecycle.common import long_lived
    long_lived()
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
    # (the pty has ONLCR off: linux/console.py; our terminal's output
    # processing, OPOST kept above, adds the \r where one is needed)
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
