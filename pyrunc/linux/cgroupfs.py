"""Mounts of type "cgroup" inside the container (/sys/fs/cgroup).

Pure v2 host: one cgroup2 mount (inside a cgroup namespace it shows the
container's cgroup as its root). v1 and hybrid hosts: a tmpfs, then one
mount per host hierarchy: a fresh mount of that hierarchy when the
container has its own cgroup namespace (its root is the container's
cgroup), else a bind of the container's own cgroup directory, as runc does.
"""
import os

from pyrunc.linux import mounts
from pyrunc.linux import sys as S


# Both read in bytes: in the init, the first text-mode read of a process
# would set up a decoder (0.3 ms of every create, in the init's critical
# path); only the few fields kept are decoded.

def _host_hierarchies():
    """[(mountpoint, fstype, super options)] of cgroup mounts under /sys/fs/cgroup."""
    out = []
    with open("/proc/self/mountinfo", "rb") as f:
        data = f.read()
    for line in data.split(b"\n"):
        if b"cgroup" not in line:
            continue
        pre, _, post = line.partition(b" - ")
        fields = pre.split()
        fstype, _src, sopts = post.split()[:3]
        if fstype in (b"cgroup", b"cgroup2") and fields[4].startswith(b"/sys/fs/cgroup"):
            out.append((os.fsdecode(fields[4]), fstype.decode(), sopts.decode()))
    return out


def _own_cgroups():
    own = {}
    with open("/proc/self/cgroup", "rb") as f:
        data = f.read()
    for line in data.splitlines():
        _, ctrls, path = line.split(b":", 2)
        path = os.fsdecode(path)
        for c in (ctrls.decode().split(",") if ctrls else [""]):
            own[c] = path
    return own


# pyrunc's own cgroup namespace, read before it forks (lifecycle.init.preload):
# the init compares its own with it. Not /proc/1's: a host's pid 1 may not
# let even root read its ns links, and a wrong "no" would bind the host's
# whole hierarchy (its root, as /proc/self/cgroup shows it in a cgroup
# namespace) into the container.
runtime_ns = None


def remember_runtime_ns():
    global runtime_ns
    runtime_ns = os.readlink("/proc/self/ns/cgroup")


def _in_cgroupns():
    mine = os.readlink("/proc/self/ns/cgroup")
    if runtime_ns is None:
        from pyrunc.errors import PyruncError
        raise PyruncError("cgroup mount: pyrunc's cgroup namespace was not recorded")
    return mine != runtime_ns


def mount_cgroup(sysc, target, o):
    hier = _host_hierarchies()
    ro = bool(o.attr_set & S.MOUNT_ATTR_RDONLY) or bool(o.flags & S.MS_RDONLY)
    attrs = S.MOUNT_ATTR_NOSUID | S.MOUNT_ATTR_NODEV | S.MOUNT_ATTR_NOEXEC | (
        S.MOUNT_ATTR_RDONLY if ro else 0)
    if len(hier) == 1 and hier[0][0] == "/sys/fs/cgroup" and hier[0][1] == "cgroup2":
        _fresh(sysc, target, "cgroup2", [], attrs)
        return
    cgns = _in_cgroupns()
    own = _own_cgroups()
    opts = mounts.Options()
    opts.data = ["mode=755"]
    # nosuid, nodev, noexec on the tmpfs too (runc's defaultMountFlags)
    opts.attr_set = attrs & ~S.MOUNT_ATTR_RDONLY
    # the fd of the new tmpfs keeps naming its root after it is attached
    root = mounts.new_fs(sysc, "tmpfs", "tmpfs", opts)
    try:
        mounts._attach(sysc, root, target)
        for mp, fstype, sopts in hier:
            name = os.path.basename(mp)
            if mp == "/sys/fs/cgroup":
                continue
            os.mkdir(name, 0o755, dir_fd=root)
            sub = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=root)
            try:
                if cgns:
                    ctrl = [x for x in sopts.split(",") if x not in ("rw", "ro")]
                    _fresh(sysc, sub, fstype, ctrl, attrs)
                else:
                    key = "" if fstype == "cgroup2" else ",".join(
                        x for x in sopts.split(",") if x not in ("rw", "ro"))
                    path = own.get(key)
                    if path is None:
                        path = own.get(key.replace("name=", "name="), "/")
                    tree = mounts.bind_tree(sysc, mp + path, False)
                    try:
                        o = mounts.Options()
                        o.attr_set = attrs
                        mounts.attach(sysc, tree, sub, o)
                    finally:
                        os.close(tree)
            finally:
                os.close(sub)
        if ro:
            mounts.set_attrs(sysc, root, S.MOUNT_ATTR_RDONLY, 0)
    finally:
        os.close(root)


def _fresh(sysc, target, fstype, data, attrs):
    fs = sysc.fsopen(fstype)
    try:
        for d in data:
            k, eq, v = d.partition("=")
            if k == "release_agent":
                continue            # the host's; never from a container's mount
            if eq:
                sysc.fsconfig(fs, S.FSCONFIG_SET_STRING, k, v)     # name=systemd
            else:
                sysc.fsconfig(fs, S.FSCONFIG_SET_FLAG, d)
        sysc.fsconfig(fs, S.FSCONFIG_CMD_CREATE)
        m = sysc.fsmount(fs, S.FSMOUNT_CLOEXEC, attrs)
    finally:
        os.close(fs)
    try:
        mounts._attach(sysc, m, target)
    finally:
        os.close(m)
