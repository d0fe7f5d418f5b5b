"""root, mounts in order, pivot_root, rootfsPropagation, masked/readonly paths.

Runs in the container's init (a child of pyrunc create) after the mount
namespace exists. The order is the spec's and runc's:
  1. make the host's tree a slave of ours (nothing we mount leaks out);
  2. bind the rootfs onto itself and open it once (rootfd);
  3. every mounts[] entry, in order (mounts.py), then /dev (devices.py);
  4. createContainer hooks (caller's callback), while host paths still resolve;
  5. pivot_root (or MS_MOVE + chroot with --no-pivot);
  6. rootfsPropagation on the new /;
  7. maskedPaths and readonlyPaths, last, failures fatal (CVE-2025-31133);
  8. root.readonly.
"""
import os
import stat

from pyrunc.errors import PyruncError
from pyrunc.linux import devices, mounts, paths, procfs
from pyrunc.linux import sys as S

_ROOT_PROPAGATION = {
    "shared": S.MS_SHARED, "rshared": S.MS_SHARED, "slave": S.MS_SLAVE, "rslave": S.MS_SLAVE,
    "private": S.MS_PRIVATE, "rprivate": S.MS_PRIVATE, "unbindable": S.MS_UNBINDABLE,
    "runbindable": S.MS_UNBINDABLE,
}


def open_host_devnull(sysc):
    """O_PATH fd of the host's /dev/null, verified to be the char device 1:3."""
    fd = os.open("/dev/null", os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    st = os.fstat(fd)
    if not stat.S_ISCHR(st.st_mode) or os.major(st.st_rdev) != 1 or os.minor(st.st_rdev) != 3:
        os.close(fd)
        raise PyruncError("/dev/null on the host is not the null device (1:3)")
    return fd


def prepare(sysc, config, rootfs, in_userns, steps, nodes, mount_label=None,
            before_cgroup=None):
    """Steps 1-3: returns rootfd (O_PATH of the rootfs bind). steps and
    nodes: the plan's mounts (mount_steps) and device nodes
    (devices.device_list), worked out in pyrunc before the fork."""
    sysc.mount(None, "/", None, S.MS_REC | S.MS_SLAVE)
    sysc.mount(rootfs, rootfs, None, S.MS_BIND | S.MS_REC)
    return _populate(sysc, config, rootfs, in_userns, steps, nodes, mount_label, before_cgroup)


def prepare_no_mntns(sysc, config, rootfs, in_userns, steps, nodes, mount_label=None,
                     before_cgroup=None):
    """Without a mount namespace the mounts land in the host's tree (as
    with runc); delete unmounts what create added under the rootfs."""
    return _populate(sysc, config, rootfs, in_userns, steps, nodes, mount_label, before_cgroup)


def mount_steps(config, rootfs):
    """[(index in config.mounts, Mount as it will be mounted, parsed
    Options)] in order: the plan of step 3 (pyrunc/lifecycle/plan.py)."""
    from pyrunc.config.model import Mount
    top = rootfs.rstrip("/") + "/"
    out = []
    for i, m in enumerate(config.mounts):
        if _ro_dev(m) or m.destination.startswith(top):
            kw = {k: getattr(m, k) for k in Mount.__slots__}
            if _ro_dev(m):
                # devices, /dev/pts and the rest still go below it:
                # read-only at the end (readonly_dev), as runc does
                kw["options"] = tuple(o for o in m.options if o != "ro")
            if m.destination.startswith(top):
                # a destination written as a host path inside the rootfs
                # means the same place in the container (runc, lexically)
                kw["destination"] = "/" + m.destination[len(top):]
            m = Mount(**kw)
        o = mounts.parse_options(m.options)
        mounts.replace_bind_flags(o)
        out.append((i, m, o))
    return out


def _populate(sysc, config, rootfs, in_userns, steps, nodes, label, before_cgroup=None):
    rootfd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    from pyrunc.linux import idmap
    for i, m, o in steps:
        if m.type in ("cgroup", "cgroup2") and before_cgroup is not None:
            # a cgroup mount shows the cgroup (namespace) we are in: only
            # once in the container's own (else: the host's whole tree)
            before_cgroup()
        try:
            mounts.mount_one(sysc, rootfd, m, label, idmap.premade.pop(i, None), o)
        except OSError as e:
            raise PyruncError("error mounting %s (type %s): %s" % (
                m.destination, m.type or "bind", _errtext(e))) from None
    devices.setup_dev(sysc, rootfd, config, nodes, in_userns)
    return rootfd


def _ro_dev(m):
    return ("ro" in (m.options or ())
            and os.path.normpath("/" + m.destination.lstrip("/")) == "/dev")


def _errtext(e):
    if isinstance(e, OSError) and e.errno:
        t = os.strerror(e.errno).lower()
        return "%s: %s" % (e.filename, t) if e.filename else t
    return str(e)


def pivot(sysc, rootfd, rootfs, no_pivot):
    """Step 5: make the rootfs the container's /."""
    if no_pivot == "chroot":
        os.chdir(rootfs)
        os.chroot(".")
        os.chdir("/")
        return
    if no_pivot:
        _cover_full_proc_and_sys(sysc, rootfs)
        os.chdir(rootfs)
        sysc.mount(rootfs, "/", None, S.MS_MOVE)
        os.chroot(".")
        os.chdir("/")
        return
    os.fchdir(rootfd)
    sysc.pivot_root(".", ".")
    # the old root is now stacked on "."; detach it (it is a slave: the
    # host's mounts are untouched)
    sysc.umount2(".", S.MNT_DETACH)
    os.chdir("/")


def _cover_full_proc_and_sys(sysc, rootfs):
    """--no-pivot keeps the host's mounts in the container's mount namespace,
    below the chroot. A whole procfs or sysfs among them would let the
    kernel allow a fresh, unmasked proc mount inside (a new user namespace
    may mount proc only where one is already fully visible; runc #2647):
    so every such mount outside the rootfs is detached, or covered with a
    tmpfs where detaching is refused."""
    rows = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fs = pre.split()
            if fs[3] == "/" and post.split()[0] in ("proc", "sysfs"):
                rows.append(procfs.unescape(fs[4]))
    top = rootfs.rstrip("/") + "/"
    for mp in rows:
        if mp == rootfs or mp.startswith(top):
            continue
        try:
            sysc.umount2(mp, S.MNT_DETACH)
        except FileNotFoundError:
            continue                # below one detached already
        except OSError as e:
            if e.errno not in (1, 22):      # EPERM, EINVAL: cover it instead
                raise
            sysc.mount("tmpfs", mp, "tmpfs", 0)


def devnull_clones(sysc, config, devnull_fd):
    """Detached copies of the host's /dev/null mount, one per masked path,
    made before pivot_root (afterwards the host mount is out of reach)."""
    n = len(config.linux.masked_paths) if config.linux else 0
    return [mounts.bind_tree(sysc, devnull_fd, False) for _ in range(n)]


def finalize(sysc, config, devnull_trees):
    """Steps 6-8, after pivot_root."""
    lx = config.linux
    prop = lx.rootfs_propagation if lx else None
    if prop:
        sysc.mount(None, "/", None, S.MS_REC | _ROOT_PROPAGATION[prop])
    rootfd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        shared = []     # masked directories share one read-only tmpfs (runc)
        try:
            for p in _unique(lx.masked_paths if lx else ()):
                mask_path(sysc, rootfd, p, devnull_trees, shared)
        finally:
            for t in shared:
                os.close(t)
        for p in (lx.readonly_paths if lx else ()):
            readonly_path(sysc, rootfd, p)
        if config.root.readonly:
            mounts.set_attrs(sysc, rootfd, S.MOUNT_ATTR_RDONLY, 0)
    finally:
        os.close(rootfd)
        for t in devnull_trees:
            os.close(t)


def _unique(paths_):
    """Each path once, first occurrence first ("/a/" and "/a" are one)."""
    seen = set()
    for p in paths_:
        k = os.path.normpath("/" + p.lstrip("/"))
        if k not in seen:
            seen.add(k)
            yield p


def readonly_dev(sysc, config):
    """A /dev mounted "ro": read-only once everything below it is made,
    /dev/console included (after the terminal is set up)."""
    if not any(_ro_dev(m) for m in config.mounts):
        return
    rootfd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        dev = paths.open_in_root(sysc, rootfd, "/dev")
        try:
            mounts.set_attrs(sysc, dev, S.MOUNT_ATTR_RDONLY, 0)
        finally:
            os.close(dev)
    finally:
        os.close(rootfd)


def mask_path(sysc, rootfd, path, devnull_trees, shared=None):
    """shared: [] on the first call; then holds the attached tmpfs that
    later masked directories get a copy of."""
    try:
        fd = paths.open_in_root(sysc, rootfd, path)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            if shared:
                tree = mounts.bind_tree(sysc, shared[0], False)
            else:
                o = mounts.Options()
                o.attr_set = S.MOUNT_ATTR_RDONLY      # given at fsmount time
                tree = mounts.new_fs(sysc, "tmpfs", "tmpfs", o)
            try:
                mounts._attach(sysc, tree, fd)
                if shared is not None and not shared:
                    shared.append(tree)     # names the attached tmpfs now
                    tree = -1
            finally:
                if tree >= 0:
                    os.close(tree)
        else:
            # the host's verified /dev/null, never the container's (CVE-2025-31133)
            tree = devnull_trees.pop()
            try:
                mounts._attach(sysc, tree, fd)
            finally:
                os.close(tree)
    except OSError as e:
        raise PyruncError("mask %s: %s" % (path, _errtext(e))) from None
    finally:
        os.close(fd)


def readonly_path(sysc, rootfd, path):
    try:
        fd = paths.open_in_root(sysc, rootfd, path)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        tree = mounts.bind_tree(sysc, fd, True)
        try:
            o = mounts.Options()
            o.rattr_set = S.MOUNT_ATTR_RDONLY
            mounts.attach(sysc, tree, fd, o)
        finally:
            os.close(tree)
    except OSError as e:
        raise PyruncError("readonly path %s: %s" % (path, _errtext(e))) from None
    finally:
        os.close(fd)


def mounts_under(path):
    """Mount points at or below path in the caller's mount namespace."""
    out = []
    prefix = path.rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = procfs.unescape(line.split()[4])
            if mp.startswith(prefix):
                out.append(mp)
    return out


def unmount_added(rootfs, before):
    """delete without a mount namespace: undo the mounts create added."""
    keep = set(before or ())
    for mp in sorted(mounts_under(rootfs), key=len, reverse=True):
        if mp not in keep:
            try:
                os.stat(mp)  # noqa: the path is host-side and ours
                from pyrunc.linux.sys import real
                real().umount2(mp, S.MNT_DETACH)
            except OSError:
                pass
