"""linux.namespaces, uid/gid mappings and timeOffsets.

A namespace with a path is joined (setns), one without is created
(unshare), a type not listed is inherited. A path must name a namespace
of the listed type (checked with NS_GET_NSTYPE), a type may appear once.
"""
import os

from pyrunc.linux import in_userns
from pyrunc.errors import ConfigError, PyruncError
from pyrunc.linux import sys as S

FLAGS = {
    "pid": S.CLONE_NEWPID, "network": S.CLONE_NEWNET, "mount": S.CLONE_NEWNS,
    "ipc": S.CLONE_NEWIPC, "uts": S.CLONE_NEWUTS, "user": S.CLONE_NEWUSER,
    "cgroup": S.CLONE_NEWCGROUP, "time": S.CLONE_NEWTIME,
}
# /proc/<pid>/ns/<name> for each type (exec joins a running container's)
PROC_NAME = {
    "pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
    "user": "user", "cgroup": "cgroup", "time": "time",
}
NS_GET_NSTYPE = 0xB703
# join order: user first (it owns the others), mount last (it changes /)
JOIN_ORDER = ("user", "pid", "network", "ipc", "uts", "cgroup", "time", "mount")


class Plan:
    """What C1 (the first child) must do: fds to join, flags to unshare."""

    __slots__ = ("join", "unshare", "new_user", "types", "time_offsets")

    def __init__(self):
        self.join = []          # [(type, fd)] in JOIN_ORDER
        self.unshare = 0        # CLONE_NEW* flags except user
        self.new_user = False
        self.types = set()      # every type the container has (new or joined)
        self.time_offsets = None

    def close(self):
        for _t, fd in self.join:
            try:
                os.close(fd)
            except OSError:
                pass
        self.join = []


def plan(config):
    """Validate linux.namespaces and open every path; returns a Plan."""
    import fcntl
    p = Plan()
    lx = config.linux
    seen = set()
    paths = {}
    for ns in (lx.namespaces if lx else ()):
        if ns.type not in FLAGS:
            raise ConfigError("config.json: /linux/namespaces: unknown namespace type %r" % ns.type)
        if ns.type in seen:
            raise ConfigError("config.json: /linux/namespaces: duplicate namespace type %r" % ns.type)
        seen.add(ns.type)
        if ns.path:
            paths[ns.type] = ns.path
        elif ns.type == "user":
            p.new_user = True
        else:
            p.unshare |= FLAGS[ns.type]
    p.types = seen
    try:
        for t in JOIN_ORDER:
            path = paths.get(t)
            if not path:
                continue
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as e:
                raise PyruncError("namespace %s path %s: %s" % (t, path, os.strerror(e.errno).lower()))
            p.join.append((t, fd))
            try:
                kind = fcntl.ioctl(fd, NS_GET_NSTYPE)
            except OSError:
                kind = -1
            if kind != FLAGS[t]:
                raise PyruncError("namespace path %s is not a %s namespace" % (path, t))
    except BaseException:
        p.close()
        raise
    if lx and lx.time_offsets:
        if "time" not in seen or "time" in paths:
            raise ConfigError("config.json: /linux/timeOffsets: needs a new time namespace")
        p.time_offsets = lx.time_offsets
    if lx and (lx.uid_mappings or lx.gid_mappings) and "user" not in seen:
        raise ConfigError("config.json: /linux/uidMappings: needs a user namespace")
    if p.new_user and not (lx.uid_mappings and lx.gid_mappings):
        raise ConfigError("config.json: /linux/uidMappings: a new user namespace needs "
                          "uidMappings and gidMappings")
    return p


def join(sysc, p):
    """In C1: setns into every path namespace but a pid namespace: that one
    the init joins last, right before the init helper forks the container's
    process into it (pid_fd), so that no python process of pyrunc ever lives
    in a pid namespace with other processes.

    With a user namespace to join, the others are tried first, with the
    privileges we have here: one not owned by that user namespace (a netns
    of the host's) can only be joined so (runc). Those refused (EPERM: a
    rootless caller) are joined from inside the user namespace."""
    keep, later = [], []
    has_user = any(t == "user" for t, _fd in p.join)
    for t, fd in p.join:
        if t == "pid":
            keep.append((t, fd))
        elif t != "user" and has_user:
            try:
                sysc.setns(fd, FLAGS[t])
            except OSError as e:
                if e.errno != 1:
                    raise PyruncError("join %s namespace: %s"
                                      % (t, os.strerror(e.errno).lower())) from None
                later.append((t, fd))
                continue
            os.close(fd)
        else:
            later.append((t, fd))
    later.sort(key=lambda x: x[0] != "user")            # user first among the rest
    for t, fd in later:
        try:
            sysc.setns(fd, FLAGS[t])
        except OSError as e:
            raise PyruncError("join %s namespace: %s" % (t, os.strerror(e.errno).lower()))
        os.close(fd)
        if t == "user":
            become_root()
    p.join = keep


def become_root():
    """After joining a user namespace: become its uid/gid 0 (as runc). Our
    host ids are unmapped there, so files we create would get the overflow
    ids and mounts such as devpts fail with EOVERFLOW."""
    try:
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    except OSError as e:
        raise PyruncError("user namespace: become its root: %s (is 0 mapped?)"
                          % os.strerror(e.errno).lower())


def pid_fd(p):
    """The fd of the pid namespace joined by path, or -1."""
    return dict(p.join).get("pid", -1)


def write_id_maps(pid, config):
    """In pyrunc (the parent): uid_map and gid_map of the child's new user ns.
    Written directly where we may (root, or an unprivileged user mapping
    only its own id, with setgroups denied first as the kernel requires);
    otherwise, as for wider maps of an unprivileged user, through the
    setuid newuidmap/newgidmap of the uidmap package (/etc/subuid)."""
    lx = config.linux
    for name, maps in (("uid_map", lx.uid_mappings), ("gid_map", lx.gid_mappings)):
        data = "".join("%d %d %d\n" % (m.container_id, m.host_id, m.size) for m in maps)
        if name == "gid_map" and os.geteuid() != 0 and len(maps) == 1 and \
                maps[0].size == 1 and maps[0].host_id == os.getegid():
            _write_proc(pid, "setgroups", "deny")
        try:
            _write_proc(pid, name, data)
            continue
        except PyruncError as e:
            if e.errno != 1 or os.geteuid() == 0 and not in_userns():
                raise
        _new_id_map(pid, "newuidmap" if name == "uid_map" else "newgidmap", maps)


def _write_proc(pid, name, data):
    try:
        with open("/proc/%d/%s" % (pid, name), "w") as f:
            f.write(data)
    except OSError as e:
        err = PyruncError("write %s: %s" % (name, os.strerror(e.errno).lower()))
        err.errno = e.errno
        raise err from None


def _new_id_map(pid, tool, maps):
    import shutil
    import subprocess
    exe = shutil.which(tool) or shutil.which(tool, path="/usr/bin:/bin:/usr/sbin:/sbin")
    if exe is None:
        raise PyruncError("%s: not found (the uidmap package maps more than one id for an "
                          "unprivileged user)" % tool)
    args = [exe, str(pid)]
    for m in maps:
        args += [str(m.container_id), str(m.host_id), str(m.size)]
    r = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, close_fds=True)
    if r.returncode != 0:
        msg = r.stderr.decode(errors="replace").strip().splitlines()
        raise PyruncError("%s: %s" % (tool, msg[-1] if msg else "exit %d" % r.returncode))


def write_time_offsets(offsets):
    """In C1, after unshare(CLONE_NEWTIME) and before the first fork."""
    data = "".join("%s %d %d\n" % (clock, o.secs or 0, o.nanosecs or 0)
                   for clock, o in offsets.items())
    try:
        with open("/proc/self/timens_offsets", "w") as f:
            f.write(data)
    except OSError as e:
        raise PyruncError("timeOffsets: %s" % os.strerror(e.errno).lower())


def container_ns_fds(pid, types):
    """Open /proc/<pid>/ns/* of a running container (for exec and hooks)."""
    fds = []
    mine = {}
    try:
        for t in JOIN_ORDER:
            if t not in types:
                continue
            name = PROC_NAME[t]
            if t == "pid":
                name = "pid"
            fd = os.open("/proc/%d/ns/%s" % (pid, name), os.O_RDONLY | os.O_CLOEXEC)
            # one we are in already (the container shares it with the host):
            # nothing to join, and from inside the container's user
            # namespace it could not be (a user namespace, or a netns that
            # user namespace does not own)
            own = mine.setdefault(t, os.stat("/proc/self/ns/%s" % name).st_ino)
            if own == os.fstat(fd).st_ino:
                os.close(fd)
                continue
            fds.append((t, fd))
    except OSError:
        for _t, fd in fds:
            os.close(fd)
        raise
    return fds
