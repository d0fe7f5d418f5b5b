"""Helpers shared by the lifecycle operations."""
import os

from pyrunc.errors import PyruncError


class Fds:
    """The fds a create or exec opened before its fork: closed together."""

    def __init__(self):
        self.fds = []

    def keep(self, fd):
        self.fds.append(fd)
        return fd

    def close(self):
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []


def stored_config(c):
    """The config.json that create copied (edits to the bundle don't count)."""
    from pyrunc.config import parse_json
    from pyrunc.config.model import build
    with open(c.path("config.json"), "rb") as f:
        return build(parse_json(f.read(), "config.json"))


def cgroup_manager(c):
    d = c.data.get("cgroup")
    if not d:
        return None
    from pyrunc.linux import cgroups
    return cgroups.Manager.from_dict(d)


def wait_gone(pid, start_time, timeout=10.0):
    """Wait (with a pidfd, no polling) until pid has exited."""
    from pyrunc.state import pid_alive
    import select
    if not pid_alive(pid, start_time):
        return True
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return True
    try:
        if not pid_alive(pid, start_time):
            return True
        p = select.poll()
        p.register(fd, select.POLLIN)
        p.poll(int(timeout * 1000))
    finally:
        os.close(fd)
    # a zombie of our caller counts as gone
    return not pid_alive(pid, start_time)


def signal_init(c, sig):
    """Send sig to the init through a pidfd bound to the recorded process
    (os and _signal have pidfd_open and pidfd_send_signal: no shim needed)."""
    import _signal
    from pyrunc.state import pid_alive
    pid = c.pid
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        raise PyruncError("container not running") from None
    try:
        # the pidfd pins the process: re-check it is still ours
        if not pid_alive(pid, c.data.get("pid_start")):
            raise PyruncError("container not running")
        _signal.pidfd_send_signal(fd, sig)
    except OSError as e:
        if e.errno == 3:
            raise PyruncError("container not running") from None
        raise
    finally:
        os.close(fd)


def in_container(c, fn, types=None):
    """Run fn() in a child that joined the namespaces of the container's
    init (pid namespace included, for its own children). Returns fn's
    exit status of the child (0 = ok). Used by startContainer hooks."""
    from pyrunc.linux import namespaces
    from pyrunc.linux.sys import real, PR_SET_DUMPABLE
    sysc = real()
    types = types or c.data.get("namespaces", [])
    fds = namespaces.container_ns_fds(c.pid, types)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            sysc.prctl(PR_SET_DUMPABLE, 0)
            for t, fd in fds:
                sysc.setns(fd, namespaces.FLAGS[t])
            msg = fn() or ""
            os.write(w, msg.encode())
            code = 0
        except BaseException as e:
            try:
                os.write(w, str(e).encode())
            except OSError:
                pass
        os._exit(code)
    os.close(w)
    for _t, fd in fds:
        os.close(fd)
    out = b""
    while True:
        b = os.read(r, 4096)
        if not b:
            break
        out += b
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        raise PyruncError(out.decode(errors="replace") or "failed in the container namespaces")


# HUP INT QUIT USR1 USR2 ALRM TERM CONT WINCH and the rest of the catchable,
# non-job-control, non-fault signals (numbers: `signal` imports enum)
FORWARD_SIGNALS = tuple(s for s in range(1, 32) if s not in (4, 7, 8, 9, 11, 17, 19, 20, 21, 22))


def forward_signals(pid):
    """Forward the signals pyrunc receives to pid (run, exec in the foreground)."""
    import _signal

    def forward(sig, _frame):
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    for s in FORWARD_SIGNALS:
        try:
            _signal.signal(s, forward)
        except (OSError, ValueError):
            pass


def long_lived():
    """Turn the cyclic garbage collector back on: the launcher keeps it off
    for a call's short work, and this process now waits for a container or
    streams events for as long as that lasts."""
    import gc
    # what exists now (modules, the config, ~100k objects) lives until the
    # exit anyway: moved out of the collector's reach first, or the first
    # collection walks all of it (gen0 held every object made with gc off:
    # 2 ms of `run`, between the container's exit and the delete)
    gc.freeze()
    gc.enable()


def wait_exit_status(pid):
    """As the child subreaper, reap until pid exits; its status as a shell
    reports it (128+N when killed by signal N)."""
    long_lived()
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


def send_to_child(ps, msg):
    """A child that failed has sent "E <text>" and exited: its queued
    messages stay readable, so a failed send is not the error to report."""
    try:
        ps.send(msg)
    except (BrokenPipeError, ConnectionResetError):
        pass


def recv_from_child(ps):
    """The child's next message, b"" at EOF. A child that failed and exited
    with messages of ours unread makes the kernel fail our next recv once
    with ECONNRESET; the "E <text>" it sent before it exited is still
    queued behind that, and is the error to report."""
    try:
        return ps.recv(65536)
    except ConnectionResetError:
        return ps.recv(65536)
