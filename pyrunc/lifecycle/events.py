"""events: container statistics and OOM notifications as JSON lines (runc's
`events`).

  events --stats <id>       one {"type":"stats","id":ID,"data":{...}} line
  events [--interval D] <id>
      a stats line every D (Go duration, default 5s; the first one after D,
      as runc), and {"type":"oom","id":ID} whenever the memory cgroup
      reports an OOM; returns when the container's init exits.

OOM notification, without polling:
  * cgroup v1 (and hybrid): an eventfd registered in the memory cgroup's
    cgroup.event_control against memory.oom_control (what runc does); it
    also fires when the cgroup is removed, which ends the stream;
  * cgroup v2: memory.events, which the kernel flags POLLPRI on change; an
    OOM is an increase of its oom_kill counter;
  * otherwise Manager.oom_count() is compared at each interval.
The init's exit is seen through a pidfd.
"""
import os
import select

from pyrunc.errors import PyruncError, UsageError
from pyrunc.lifecycle.common import long_lived

_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3,
          "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(s):
    """Go's time.ParseDuration, in seconds: '5s', '100ms', '1m30s', '1.5h'."""
    orig = s
    sign = 1.0
    if s[:1] in ("+", "-"):
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError('time: invalid duration "%s"' % orig)
    total = 0.0
    while s:
        i = 0
        while i < len(s) and (s[i] in "0123456789."):
            i += 1
        num, s = s[:i], s[i:]
        if not num or num == "." or num.count(".") > 1:
            raise ValueError('time: invalid duration "%s"' % orig)
        j = 0
        while j < len(s) and s[j] not in "0123456789.":
            j += 1
        unit, s = s[:j], s[j:]
        if not unit:
            raise ValueError('time: missing unit in duration "%s"' % orig)
        if unit not in _UNITS:
            raise ValueError('time: unknown unit "%s" in duration "%s"' % (unit, orig))
        total += float(num) * _UNITS[unit]
    return sign * total


def interval_arg(text):
    if text is None:
        return 5.0
    try:
        v = parse_duration(text)
    except ValueError as e:
        raise UsageError('invalid value "%s" for flag -interval: %s' % (text, e)) from None
    if v <= 0:
        raise PyruncError("duration interval must be greater than 0")
    return v


class _Out:
    """JSON lines on stdout, flushed one by one; a closed reader ends us."""

    def __init__(self, cid):
        import sys
        from pyrunc.fastjson import dumps
        self.cid = cid
        self.dumps = dumps
        self.f = sys.stdout

    def event(self, kind, data=None):
        ev = {"type": kind, "id": self.cid}
        if data is not None:
            ev["data"] = data
        self.f.write(self.dumps(ev) + "\n")
        self.f.flush()


def _stats(mgr):
    from pyrunc.linux.cgroups import CgroupError
    if mgr is None:
        raise PyruncError("container has no cgroup: no statistics")
    try:
        return mgr.stats()
    except CgroupError as e:
        raise PyruncError("unable to get container cgroup stats: %s" % e) from None


class OomWatch:
    """fd to poll (or None) and check() -> number of new OOM events."""

    def __init__(self, mgr):
        self.mgr = mgr
        self.fd = None
        self.mask = 0
        self.kind = "poll"
        self.gone = False
        self._fds = []
        self.base = self._count()
        if mgr is None:
            return
        try:
            if mgr.kind in ("v1", "hybrid"):
                self._v1()
            elif mgr.kind == "v2":
                self._v2()
        except OSError:
            self.close()
            self.fd = None
            self.kind = "poll"

    def _count(self):
        if self.mgr is None:
            return 0
        try:
            return self.mgr.oom_count()
        except Exception:
            return 0

    def _v1(self):
        from pyrunc.linux.cgroups import CgroupError, write_file
        d = self.mgr.ctl_dir("memory")
        if d is None:
            return
        efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._fds.append(efd)
        ofd = os.open(d + "/memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
        self._fds.append(ofd)
        self.control = d + "/cgroup.event_control"
        try:
            write_file(self.control, "%d %d" % (efd, ofd))
        except CgroupError as e:
            raise OSError(getattr(e, "errno", 0) or 5, str(e)) from None
        self.fd, self.mask, self.kind = efd, select.POLLIN, "eventfd"

    def _v2(self):
        f = self.mgr.dir("") + "/memory.events"
        fd = os.open(f, os.O_RDONLY | os.O_CLOEXEC)
        self._fds.append(fd)
        os.read(fd, 4096)        # arm: poll reports changes after a read
        self.fd, self.mask, self.kind = fd, select.POLLPRI | select.POLLERR, "events"

    def check(self):
        """New OOM events since the last call (non-blocking)."""
        if self.kind == "eventfd":
            n = 0
            try:
                n = 1 if os.eventfd_read(self.fd) else 0
            except BlockingIOError:
                pass
            if n and not os.path.exists(self.control):
                self.gone = True       # the cgroup was removed, not an OOM
                return 0
            if n:
                self.base = self._count()
            return n
        if self.kind == "events":
            os.lseek(self.fd, 0, os.SEEK_SET)
            os.read(self.fd, 4096)
        cur = self._count()
        n = max(0, cur - self.base)
        self.base = max(cur, self.base)
        return n

    def close(self):
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = []


def events(ctx, cid, stats_only=False, interval=5.0):
    import time
    from pyrunc.lifecycle.common import cgroup_manager
    from pyrunc.state import Store, pid_alive
    c = Store(ctx.root).load(cid)
    if c.status() == "stopped":
        raise PyruncError("container with id %s is not running" % cid)
    mgr = cgroup_manager(c)
    out = _Out(cid)
    if stats_only:
        out.event("stats", _stats(mgr))
        return
    pid, start = c.pid, c.data.get("pid_start")
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return                                  # gone already
    watch = OomWatch(mgr)
    try:
        if not pid_alive(pid, start):
            return
        p = select.poll()
        p.register(pidfd, select.POLLIN)
        if watch.fd is not None:
            p.register(watch.fd, watch.mask)
        due = time.monotonic() + interval
        long_lived()
        while True:
            wait = max(0.0, due - time.monotonic())
            ready = dict(p.poll(int(wait * 1000) + (1 if wait > 0 else 0)))
            if watch.fd is not None and watch.fd in ready:
                for _ in range(watch.check()):
                    out.event("oom")
                if watch.gone:
                    return
            if pidfd in ready or not pid_alive(pid, start):
                # an OOM kill of the init: report it before ending
                for _ in range(watch.check()):
                    out.event("oom")
                return
            now = time.monotonic()
            if now >= due:
                if watch.fd is None:
                    for _ in range(watch.check()):
                        out.event("oom")
                try:
                    out.event("stats", _stats(mgr))
                except PyruncError as e:
                    from pyrunc import log
                    log.error(str(e))
                due += interval
                if due <= now:
                    due = now + interval
    except BrokenPipeError:
        # the reader went away: nothing more to say (and nothing to flush)
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        except OSError:
            pass
    finally:
        watch.close()
        os.close(pidfd)
