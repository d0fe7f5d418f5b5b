"""kill: send a signal to the container's init (or, with --all, to every
process of its cgroup)."""
from pyrunc.errors import PyruncError, UsageError
from pyrunc.lifecycle.common import cgroup_manager, signal_init
from pyrunc.state import Store

_NAMES = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7,
    "FPE": 8, "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14,
    "TERM": 15, "STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21,
    "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28,
    "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
}


def parse_signal(s):
    if s is None or s == "":
        return 15
    if s.isdigit():
        n = int(s)
        if 0 <= n <= 64:            # 0: only checks that the init exists
            return n
        raise UsageError("invalid signal: %s" % s)
    name = s.upper()
    if name.startswith("SIG"):
        name = name[3:]
    if name in _NAMES:
        return _NAMES[name]
    if name.startswith("RTMIN"):
        off = name[5:]
        base = 34
        return base + (int(off.lstrip("+")) if off else 0)
    if name.startswith("RTMAX"):
        off = name[5:]
        return 64 - (int(off.lstrip("-")) if off else 0)
    raise UsageError("invalid signal: %s" % s)


def kill(ctx, cid, sig, all_=False):
    store = Store(ctx.root)
    c = store.load(cid)
    status = c.status()
    running = status in ("created", "running", "paused")
    # Without a pid namespace of its own, the container's processes do not
    # die with its init: SIGKILL goes to every process of its cgroup, also
    # once the init is gone (runc's kill.bats "host pidns + init gone").
    whole = all_ or (sig == 9 and "pid" not in c.data.get("namespaces", ["pid"]))
    if not running and not (whole and status == "stopped"):
        raise PyruncError("container not running")
    mgr = None
    if whole:
        mgr = cgroup_manager(c)
        if mgr is not None:
            mgr.kill_all(sig)       # (--all on a stopped container: what is left)
    if running:
        try:
            signal_init(c, sig)
        except PyruncError:
            if mgr is None:
                raise               # (else the cgroup's kill got it already)
