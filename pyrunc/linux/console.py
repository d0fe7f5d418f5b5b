"""process.terminal: a pty made inside the container's devpts, its master
sent to --console-socket (runc's protocol: one sendmsg, payload the pty
name, exactly one fd by SCM_RIGHTS), the peer made the controlling
terminal and stdio of the process and bind-mounted on /dev/console.

The master comes from /dev/pts/ptmx verified to be devpts' ptmx (5:2), and
the peer from TIOCGPTPEER, never from a path (CVE-2025-52565).
"""
import _socket
import fcntl
import os
import stat
import struct
import termios   # imported before pivot_root, as this module is

from pyrunc.errors import PyruncError
from pyrunc.linux import mounts

DEVPTS_SUPER_MAGIC = 0x1CD1
TIOCSPTLCK = 0x40045431
TIOCGPTN = 0x80045430
TIOCSWINSZ = 0x5414
TIOCSCTTY = 0x540E


def open_pty(sysc):
    master = os.open("/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        st = os.fstat(master)
        if (sysc.fstatfs_type(master) != DEVPTS_SUPER_MAGIC or not stat.S_ISCHR(st.st_mode)
                or os.major(st.st_rdev) != 5 or os.minor(st.st_rdev) != 2):
            raise PyruncError("/dev/pts/ptmx is not the devpts ptmx device")
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        n = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0\0\0\0"))[0]
        peer = sysc.tiocgptpeer(master, os.O_RDWR | os.O_NOCTTY)
    except BaseException:
        os.close(master)
        raise
    return master, peer, "/dev/pts/%d" % n


def setup(sysc, sock_fd, console_size, make_console=True, ctty=True, uid=None,
          ours=False):
    """In the container's init, after pivot_root. Returns nothing; fds 0-2
    are the pty peer afterwards. ctty=False: the init helper's forked child
    makes it its controlling terminal (F_NEW_SESSION), not this process.
    ours: the other end is pyrunc's own proxy (run/exec in the foreground):
    no \r is added before \n (ONLCR off, as runc), set before the process
    can write a byte; a terminal on pyrunc's side adds its own."""
    try:
        master, peer, name = open_pty(sysc)
    except OSError as e:
        raise PyruncError("cannot allocate a pty: %s" % os.strerror(e.errno).lower())
    try:
        if ours:
            attrs = termios.tcgetattr(master)
            attrs[1] &= ~termios.ONLCR
            termios.tcsetattr(master, termios.TCSANOW, attrs)
        if console_size is not None:
            fcntl.ioctl(master, TIOCSWINSZ, struct.pack("HHHH", console_size.height,
                                                        console_size.width, 0, 0))
        if make_console:
            dev = os.open("/dev", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                try:
                    os.unlink("console", dir_fd=dev)
                except FileNotFoundError:
                    pass
                fd = os.open("console", os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW
                             | os.O_CLOEXEC, 0o600, dir_fd=dev)
                os.close(fd)
                target = os.open("console", os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dev)
                try:
                    tree = mounts.bind_tree(sysc, peer, False)
                    try:
                        mounts._attach(sysc, tree, target)
                    finally:
                        os.close(tree)
                finally:
                    os.close(target)
            finally:
                os.close(dev)
        sock = _socket.socket(fileno=sock_fd)
        try:
            # one sendmsg: the pty name, and exactly one fd (SCM_RIGHTS)
            sock.sendmsg([name.encode()], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS,
                                            struct.pack("i", master))])
        finally:
            sock.close()
    finally:
        os.close(master)
    if uid is not None:
        # the terminal belongs to the process's user (the group stays the
        # devpts gid=, tty), as runc does
        os.fchown(peer, uid, -1)
    if ctty:
        fcntl.ioctl(peer, TIOCSCTTY, 0)
    for i in (0, 1, 2):
        os.dup2(peer, i)
    if peer > 2:
        os.close(peer)


def connect(path):
    """In pyrunc, before any fork: connect to the caller's console socket."""
    from pyrunc.linux.sys import connect_unix
    return connect_unix(path, "console socket")
