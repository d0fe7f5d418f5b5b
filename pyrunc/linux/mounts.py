"""mounts[] and their options (config.md's table), through the new mount API.

A bind mount is open_tree(OPEN_TREE_CLONE) of the host source, given its
attributes with mount_setattr while detached, and attached with move_mount
onto an O_PATH fd of the destination that paths.py resolved inside the
rootfs. Any other filesystem is fsopen/fsconfig/fsmount + move_mount.
No mount ever re-resolves a destination string.
"""
import os
import stat

from pyrunc.errors import PyruncError
from pyrunc.linux import paths
from pyrunc.linux import sys as S

# option -> (set attr, clear attr) for mount_setattr
_ATTR = {
    "ro": (S.MOUNT_ATTR_RDONLY, 0), "rw": (0, S.MOUNT_ATTR_RDONLY),
    "nosuid": (S.MOUNT_ATTR_NOSUID, 0), "suid": (0, S.MOUNT_ATTR_NOSUID),
    "nodev": (S.MOUNT_ATTR_NODEV, 0), "dev": (0, S.MOUNT_ATTR_NODEV),
    "noexec": (S.MOUNT_ATTR_NOEXEC, 0), "exec": (0, S.MOUNT_ATTR_NOEXEC),
    "nosymfollow": (S.MOUNT_ATTR_NOSYMFOLLOW, 0), "symfollow": (0, S.MOUNT_ATTR_NOSYMFOLLOW),
    "nodiratime": (S.MOUNT_ATTR_NODIRATIME, 0), "diratime": (0, S.MOUNT_ATTR_NODIRATIME),
    "noatime": (S.MOUNT_ATTR_NOATIME, S.MOUNT_ATTR__ATIME),
    "relatime": (S.MOUNT_ATTR_RELATIME, S.MOUNT_ATTR__ATIME),
    "strictatime": (S.MOUNT_ATTR_STRICTATIME, S.MOUNT_ATTR__ATIME),
    "atime": (0, 0), "norelatime": (0, 0), "nostrictatime": (0, 0),
}
# legacy mount(2) flags for filesystems that get them at fsmount time
_FLAGS = {
    "ro": S.MS_RDONLY, "nosuid": S.MS_NOSUID, "nodev": S.MS_NODEV, "noexec": S.MS_NOEXEC,
    "sync": S.MS_SYNCHRONOUS, "dirsync": S.MS_DIRSYNC, "mand": S.MS_MANDLOCK,
    "noatime": S.MS_NOATIME, "nodiratime": S.MS_NODIRATIME, "relatime": S.MS_RELATIME,
    "strictatime": S.MS_STRICTATIME, "nosymfollow": S.MS_NOSYMFOLLOW,
    "lazytime": S.MS_LAZYTIME, "iversion": S.MS_I_VERSION, "silent": S.MS_SILENT,
}
PROPAGATION = {
    "private": S.MS_PRIVATE, "shared": S.MS_SHARED, "slave": S.MS_SLAVE,
    "unbindable": S.MS_UNBINDABLE,
}
# options that are meaningful and need no action here (or are handled elsewhere)
_NOOP = {"defaults", "async", "rw", "dev", "suid", "exec", "atime", "diratime", "norelatime",
         "nostrictatime", "symfollow", "loud", "nomand", "nolazytime", "noiversion",
         "nosync", "nodirsync", "acl", "noacl"}
FS_TYPES_NEED_DIR = ("proc", "sysfs")


class Options:
    __slots__ = ("bind", "recursive", "attr_set", "attr_clr", "rattr_set", "rattr_clr",
                 "flags", "propagation", "data", "tmpcopyup", "idmap", "late", "implied_clr",
                 "locked")

    def __init__(self):
        self.bind = self.recursive = self.tmpcopyup = self.idmap = self.late = False
        self.attr_set = self.attr_clr = self.rattr_set = self.rattr_clr = self.flags = 0
        self.implied_clr = 0    # see replace_bind_flags
        self.locked = False     # see _emulate_locks
        self.propagation = []
        self.data = []


_CLEARING = ("rw", "suid", "dev", "exec", "symfollow", "diratime")
_ATIME = ("noatime", "relatime", "strictatime")


def _merge_attr(attr_set, attr_clr, opt):
    """Fold one option into mount_setattr's (attr_set, attr_clr) pair."""
    a, c = _ATTR[opt]
    if opt in _ATIME:
        # the atime group is changed as a whole: attr_clr must be __ATIME
        return (attr_set & ~S.MOUNT_ATTR__ATIME) | a, attr_clr | S.MOUNT_ATTR__ATIME
    if opt in _CLEARING:
        return attr_set & ~c, attr_clr | c
    if a:
        return attr_set | a, attr_clr & ~a
    return attr_set, attr_clr     # atime, norelatime, nostrictatime


def parse_options(options):
    o = Options()
    for opt in options:
        if opt in ("bind", "rbind"):
            o.bind = True
            o.recursive = o.recursive or opt == "rbind"
        elif opt in PROPAGATION:
            o.propagation.append((PROPAGATION[opt], False))
        elif opt[:1] == "r" and opt[1:] in PROPAGATION:
            o.propagation.append((PROPAGATION[opt[1:]], True))
        elif opt in _ATTR:
            o.attr_set, o.attr_clr = _merge_attr(o.attr_set, o.attr_clr, opt)
            o.flags |= _FLAGS.get(opt, 0)
            if opt == "rw":
                o.flags &= ~S.MS_RDONLY
        elif opt[:1] == "r" and opt[1:] in _ATTR:
            o.rattr_set, o.rattr_clr = _merge_attr(o.rattr_set, o.rattr_clr, opt[1:])
        elif opt == "tmpcopyup":
            o.tmpcopyup = True
        elif opt in ("idmap", "ridmap"):
            o.idmap = True
            o.recursive = o.recursive or opt == "ridmap"
        elif opt in _FLAGS:
            o.flags |= _FLAGS[opt]
        elif opt in _NOOP:
            pass
        else:
            o.data.append(opt)
    # the kernel's atime group is noatime/relatime/strictatime *and*
    # nodiratime: naming a mode replaces nodiratime too, and nodiratime
    # alone comes with the default mode, relatime (mount(8), runc)
    mode = [opt for opt in options if opt in _ATIME]
    if mode and "nodiratime" not in options:
        o.attr_clr |= S.MOUNT_ATTR_NODIRATIME
    if "nodiratime" in options and not mode:
        o.attr_set = (o.attr_set & ~S.MOUNT_ATTR__ATIME) | S.MOUNT_ATTR_RELATIME
        o.attr_clr |= S.MOUNT_ATTR__ATIME
    return o


# the per-mount flags a bind mount's options replace as a whole
_REPLACED = (S.MOUNT_ATTR_RDONLY | S.MOUNT_ATTR_NOSUID | S.MOUNT_ATTR_NODEV
             | S.MOUNT_ATTR_NOEXEC | S.MOUNT_ATTR_NOSYMFOLLOW)


def replace_bind_flags(o):
    """`mount --bind -o FLAGS` as runc does it: a bind mount with any flag
    option gets exactly the flags named; ro, nosuid, nodev, noexec and
    nosymfollow of the source that are not named are cleared (the atime
    group changes only when named). Without flag options the source's flags
    stay. See _set_attrs for flags the kernel has locked."""
    if o.bind and (o.attr_set or o.attr_clr):
        o.implied_clr = _REPLACED & ~(o.attr_set | o.attr_clr)


_LOCKABLE = (S.MOUNT_ATTR_RDONLY | S.MOUNT_ATTR_NOSUID | S.MOUNT_ATTR_NODEV
             | S.MOUNT_ATTR_NOEXEC)
_ATIME_GROUP = S.MOUNT_ATTR__ATIME | S.MOUNT_ATTR_NODIRATIME


def _emulate_locks(fd, o):
    """A host copy of a bind source (see idmap.prepare) attached in a user
    namespace has no kernel locks, where a copy made inside would: the same
    rules here. Unnamed ro/nosuid/nodev/noexec stay; clearing one of them,
    or changing the atime group, is refused (EPERM) as the kernel would."""
    cur = _current_attrs(fd)
    if o.attr_clr & cur & _LOCKABLE:
        raise PermissionError(1, "operation not permitted")
    if o.attr_clr & _ATIME_GROUP:
        new = ((cur & ~o.attr_clr) | o.attr_set) & _ATIME_GROUP
        if new != cur & _ATIME_GROUP:
            raise PermissionError(1, "operation not permitted")
    o.implied_clr &= ~(cur & _LOCKABLE)


def _set_attrs(sysc, fd, o):
    """o's attributes on the mount tree at fd: while it is detached where the
    kernel has mount_setattr, else (Linux < 5.12) once it is attached."""
    if o.locked and (o.attr_set or o.attr_clr):
        _emulate_locks(fd, o)
    if o.attr_set or o.attr_clr:
        try:
            set_attrs(sysc, fd, o.attr_set, o.attr_clr | o.implied_clr)
        except OSError as e:
            if e.errno != 1 or not o.implied_clr & _current_attrs(fd):
                raise
            # EPERM: the copy of a mount made in a user namespace's mount
            # namespace has its ro/nosuid/nodev/noexec/atime locked. Those
            # not named stay (runc); clearing a named one fails as it must.
            keep = _current_attrs(fd) & o.implied_clr & ~S.MOUNT_ATTR_NOSYMFOLLOW
            set_attrs(sysc, fd, o.attr_set, o.attr_clr | (o.implied_clr & ~keep))
    if o.rattr_set or o.rattr_clr:
        set_attrs(sysc, fd, o.rattr_set, o.rattr_clr, recursive=True)


def set_attrs(sysc, fd, attr_set, attr_clr, recursive=False):
    if sysc.has_mount_setattr():
        sysc.mount_setattr(fd, "", S.AT_EMPTY_PATH | (S.AT_RECURSIVE if recursive else 0),
                           attr_set, attr_clr)
    else:
        remount_attrs(sysc, fd, attr_set, attr_clr, recursive)


def set_propagation(sysc, fd, propagation):
    for flag, rec in propagation:
        if sysc.has_mount_setattr():
            sysc.mount_setattr(fd, "", S.AT_EMPTY_PATH | (S.AT_RECURSIVE if rec else 0),
                               propagation=flag)
        else:
            _at_mount(sysc, fd, lambda target: sysc.mount(None, target, None,
                                                         flag | (S.MS_REC if rec else 0)))


def _attach(sysc, treefd, targetfd):
    sysc.move_mount(treefd, "", targetfd, "",
                    S.MOVE_MOUNT_F_EMPTY_PATH | S.MOVE_MOUNT_T_EMPTY_PATH)


def attach(sysc, tree, target, o=None):
    """Attach the detached tree at target with o's attributes: set before
    the attach with mount_setattr, or after it by remounting (< 5.12)."""
    early = sysc.has_mount_setattr()
    if o is not None and early:
        _set_attrs(sysc, tree, o)
    _attach(sysc, tree, target)
    if o is not None and not early:
        _set_attrs(sysc, tree, o)


# -- Linux < 5.12: mount attributes through mount(2) --------------------------
# MS_REMOUNT|MS_BIND replaces a mount's per-mount flags (ro, nosuid, nodev,
# noexec, atime group, nosymfollow) as a whole, so the new set is the
# mount's current flags (statvfs) with the change applied; it only works on
# an attached mount, and MS_REC means nothing to it, so a recursive change
# remounts every mount of the tree (from mountinfo). fd is an fd of the
# mount's root (an open_tree/fsmount fd keeps naming it once attached); the
# remount goes through the cwd, so no /proc path is needed for the top one.
_ST_TO_ATTR = ((1, S.MOUNT_ATTR_RDONLY), (2, S.MOUNT_ATTR_NOSUID), (4, S.MOUNT_ATTR_NODEV),
               (8, S.MOUNT_ATTR_NOEXEC), (1024, S.MOUNT_ATTR_NOATIME),
               (2048, S.MOUNT_ATTR_NODIRATIME), (8192, S.MOUNT_ATTR_NOSYMFOLLOW))
_ATTR_TO_MS = ((S.MOUNT_ATTR_RDONLY, S.MS_RDONLY), (S.MOUNT_ATTR_NOSUID, S.MS_NOSUID),
               (S.MOUNT_ATTR_NODEV, S.MS_NODEV), (S.MOUNT_ATTR_NOEXEC, S.MS_NOEXEC),
               (S.MOUNT_ATTR_NODIRATIME, S.MS_NODIRATIME),
               (S.MOUNT_ATTR_NOSYMFOLLOW, S.MS_NOSYMFOLLOW))
ST_RELATIME = 4096


def _current_attrs(fd):
    f = os.fstatvfs(fd).f_flag
    attrs = 0
    for st, a in _ST_TO_ATTR:
        if f & st:
            attrs |= a
    if not f & (1024 | ST_RELATIME):
        attrs |= S.MOUNT_ATTR_STRICTATIME
    return attrs


def remount_flags(current, attr_set, attr_clr):
    """mount(2) flags for MS_REMOUNT|MS_BIND that turn a mount with attributes
    current into one with attr_set set and attr_clr cleared."""
    new = (current & ~attr_clr) | attr_set
    flags = S.MS_REMOUNT | S.MS_BIND
    for a, ms in _ATTR_TO_MS:
        if new & a:
            flags |= ms
    atime = new & S.MOUNT_ATTR__ATIME
    if atime == S.MOUNT_ATTR_NOATIME:
        flags |= S.MS_NOATIME
    elif atime == S.MOUNT_ATTR_STRICTATIME:
        flags |= S.MS_STRICTATIME
    else:
        flags |= S.MS_RELATIME
    return flags


def _at_mount(sysc, fd, fn):
    """fn(target) with a target path that names the mount root fd is of:
    '.' after fchdir for a directory; for a file its fd link in a private
    procfs of ours ('<pid>/fd/N' from there: a task may always walk its own
    fd dir, even non-dumpable in a user namespace)."""
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        return _in_dir(fd, lambda: fn("."))
    from pyrunc.linux import procfs
    proc = procfs.Procfs.open(sysc)
    try:
        return _in_dir(proc.fd, lambda: fn(proc.self_path("fd/%d" % fd)))
    finally:
        proc.close()


def _in_dir(dirfd, fn):
    back = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fchdir(dirfd)
        return fn()
    finally:
        os.fchdir(back)
        os.close(back)


def _remount_one(sysc, fd, attr_set, attr_clr):
    flags = remount_flags(_current_attrs(fd), attr_set, attr_clr)
    _at_mount(sysc, fd, lambda target: sysc.mount(None, target, None, flags))


def remount_attrs(sysc, fd, attr_set, attr_clr, recursive=False):
    _remount_one(sysc, fd, attr_set, attr_clr)
    if not recursive:
        return
    for sub in _submounts(sysc, fd):
        try:
            _remount_one(sysc, sub, attr_set, attr_clr)
        finally:
            os.close(sub)


def _submounts(sysc, fd):
    """O_PATH fds of the mounts below the mount at fd, parents first."""
    from pyrunc.linux import procfs
    proc = procfs.Procfs.open(sysc)
    try:
        top = sysc.mnt_id(fd)
        rows = [line.split() for line in _read(sysc, proc, proc.self_path("mountinfo"))
                .splitlines()]
    finally:
        proc.close()
    children = {}
    for r in rows:
        children.setdefault(int(r[1]), []).append((int(r[0]), r[4]))
    out, todo = [], [top]
    while todo:                         # parents before their children
        for mid, mp in children.get(todo.pop(0), ()):
            if mid == top:
                continue
            todo.append(mid)
            mp = procfs.unescape(mp)
            out.append(sysc.openat2(-100, mp, os.O_PATH | os.O_CLOEXEC, 0,
                                    S.RESOLVE_NO_SYMLINKS))
    return out


def _read(sysc, proc, rel):
    from pyrunc.linux import procfs
    fd = sysc.openat2(proc.fd, rel, os.O_RDONLY | os.O_CLOEXEC, 0, procfs.RESOLVE)
    try:
        chunks = []
        while True:
            b = os.read(fd, 65536)
            if not b:
                return b"".join(chunks).decode()
            chunks.append(b)
    finally:
        os.close(fd)


def bind_tree(sysc, source_fd_or_path, recursive):
    """A detached copy of a mount tree (open_tree(OPEN_TREE_CLONE))."""
    flags = S.OPEN_TREE_CLONE | S.OPEN_TREE_CLOEXEC | (S.AT_RECURSIVE if recursive else 0)
    if isinstance(source_fd_or_path, int):
        return sysc.open_tree(source_fd_or_path, "", flags | S.AT_EMPTY_PATH)
    return sysc.open_tree(-100, source_fd_or_path, flags)


def new_fs(sysc, fstype, source, o, label=None):
    """A detached new filesystem instance (fsopen/fsconfig/fsmount)."""
    if fstype == "proc":
        from pyrunc.linux import procfs
        fs = procfs.fsopen(sysc)        # of the container's pid namespace
    else:
        fs = sysc.fsopen(fstype)
    try:
        if source:
            sysc.fsconfig(fs, S.FSCONFIG_SET_STRING, "source", source)
        for d in o.data:
            k, eq, v = d.partition("=")
            if eq:
                sysc.fsconfig(fs, S.FSCONFIG_SET_STRING, k, v)
            else:
                sysc.fsconfig(fs, S.FSCONFIG_SET_FLAG, k)
        if label:
            sysc.fsconfig(fs, S.FSCONFIG_SET_STRING, "context", label)
        if o.flags & S.MS_RDONLY:
            sysc.fsconfig(fs, S.FSCONFIG_SET_FLAG, "ro")
        for flag, key in ((S.MS_SYNCHRONOUS, "sync"), (S.MS_DIRSYNC, "dirsync"),
                          (S.MS_LAZYTIME, "lazytime"), (S.MS_MANDLOCK, "mand"),
                          (S.MS_SILENT, "silent"), (S.MS_I_VERSION, "iversion")):
            if o.flags & flag:
                try:
                    sysc.fsconfig(fs, S.FSCONFIG_SET_FLAG, key)
                except OSError:
                    pass
        try:
            sysc.fsconfig(fs, S.FSCONFIG_CMD_CREATE)
        except OSError as e:
            raise OSError(e.errno, "mount %s: %s" % (fstype, _fs_log(fs) or os.strerror(e.errno)))
        try:
            return sysc.fsmount(fs, S.FSMOUNT_CLOEXEC, o.attr_set)
        except OSError as e:
            if e.errno != 22 or not o.attr_set & S.MOUNT_ATTR_NOSYMFOLLOW:
                raise
            # MOUNT_ATTR_NOSYMFOLLOW is Linux 5.14: set it once attached
            # (MS_NOSYMFOLLOW, 5.10) instead
            o.late = True
            return sysc.fsmount(fs, S.FSMOUNT_CLOEXEC, o.attr_set & ~S.MOUNT_ATTR_NOSYMFOLLOW)
    finally:
        os.close(fs)


def _fs_log(fs):
    try:
        return os.read(fs, 512).decode(errors="replace").strip()
    except OSError:
        return ""


def mount_one(sysc, rootfd, m, mount_label=None, host_tree=None, o=None):
    """Mount one config.json mount inside the rootfs. host_tree: the copy of
    a bind source pyrunc made on the host before the fork (idmap.prepare):
    the idmapped tree, or the one to fall back on where a user namespace's
    root cannot reach the source. o: its parsed options (the plan's; this
    changes them)."""
    if o is None:
        o = parse_options(m.options)
    idmapped = o.idmap or m.uid_mappings or m.gid_mappings
    fstype = m.type or ("bind" if o.bind or idmapped else None)
    dest = m.destination
    if not dest.startswith("/"):
        dest = "/" + dest   # relative destinations are deprecated; runc treats them so
    if o.bind or fstype == "bind":
        src = m.source
        if not src:
            raise PyruncError("mount %s: bind mount needs a source" % dest)
        try:
            st = os.stat(src)
        except PermissionError:
            if host_tree is None:
                raise PyruncError("mount %s: source %s: permission denied" % (dest, src))
            st = os.fstat(host_tree)
        except OSError as e:
            raise PyruncError("mount %s: source %s: %s" % (dest, src, os.strerror(e.errno).lower()))
        replace_bind_flags(o)
        if idmapped:
            # made by pyrunc on the host before the fork (pyrunc/linux/idmap.py)
            if host_tree is None:
                raise PyruncError("mount %s: idmapped tree missing" % dest)
            tree = host_tree
        else:
            try:
                tree = bind_tree(sysc, src, o.recursive)
                if host_tree is not None:
                    os.close(host_tree)
            except PermissionError:
                # in a user namespace, a source its root may not reach:
                # the copy pyrunc made on the host before the fork (runc
                # opens such sources first too)
                if host_tree is None:
                    raise
                tree = host_tree
                o.locked = True
        try:
            target = (paths.mkdir_all(sysc, rootfd, dest) if stat.S_ISDIR(st.st_mode)
                      else paths.create_file(sysc, rootfd, dest))
            try:
                attach(sysc, tree, target, o)
            finally:
                os.close(target)
        finally:
            os.close(tree)
        _after_attach(sysc, rootfd, dest, o)
        return
    if fstype in FS_TYPES_NEED_DIR:
        # /proc and /sys must be real directories of the image, not symlinks
        # (CVE-2019-19921, CVE-2023-27561)
        try:
            target = paths.open_in_root(sysc, rootfd, dest,
                                        resolve=S.RESOLVE_IN_ROOT | S.RESOLVE_NO_SYMLINKS)
        except FileNotFoundError:
            target = paths.mkdir_all(sysc, rootfd, dest)
        except OSError as e:
            if e.errno == 40:  # ELOOP: a symlink somewhere in the path
                raise PyruncError('filesystem "%s" must be mounted on ordinary directory' % fstype)
            raise
        if not stat.S_ISDIR(os.fstat(target).st_mode):
            os.close(target)
            raise PyruncError('filesystem "%s" must be mounted on ordinary directory' % fstype)
    else:
        existed = None
        if fstype == "tmpfs" and not any(d.startswith("mode=") for d in o.data):
            try:
                fd = paths.open_in_root(sysc, rootfd, dest)
                existed = stat.S_IMODE(os.fstat(fd).st_mode)
                os.close(fd)
            except OSError:
                pass
        target = paths.mkdir_all(sysc, rootfd, dest)
        if existed is not None:
            # a tmpfs without mode= keeps the mode of the directory it hides
            # (e.g. /tmp stays 1777), as runc does
            o.data.append("mode=%o" % existed)
    try:
        copy_from = None
        if o.tmpcopyup:
            copy_from = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=target)
        label = mount_label if fstype in ("tmpfs", "mqueue", "devpts") else None
        if fstype == "cgroup":
            from pyrunc.linux import cgroupfs
            cgroupfs.mount_cgroup(sysc, target, o)
            return
        try:
            tree = new_fs(sysc, fstype, m.source, o, label)
        except OSError as e:
            if fstype != "sysfs" or e.errno != 1:
                raise
            # sysfs needs a network namespace owned by our user namespace
            # (rootless without one): the host's /sys, bound, as runc does
            tree = bind_tree(sysc, "/sys", True)
            o.rattr_set |= o.attr_set
        try:
            attach(sysc, tree, target, o if (o.rattr_set or o.rattr_clr or o.late) else None)
        finally:
            os.close(tree)
        if copy_from is not None:
            try:
                newfd = paths.open_in_root(sysc, rootfd, dest, os.O_RDONLY | os.O_DIRECTORY
                                           | os.O_CLOEXEC)
                try:
                    copy_tree(copy_from, newfd)
                    st0 = os.fstat(copy_from)
                    os.fchown(newfd, st0.st_uid, st0.st_gid)
                    os.fchmod(newfd, stat.S_IMODE(st0.st_mode))
                finally:
                    os.close(newfd)
            finally:
                os.close(copy_from)
    finally:
        os.close(target)
    _after_attach(sysc, rootfd, dest, o)


def _after_attach(sysc, rootfd, dest, o):
    if not o.propagation:
        return
    fd = paths.open_in_root(sysc, rootfd, dest)
    try:
        set_propagation(sysc, fd, o.propagation)
    finally:
        os.close(fd)


def copy_tree(src_fd, dst_fd):
    """tmpcopyup: copy the directory under a new tmpfs into it (fd-relative)."""
    import shutil
    for entry in os.scandir(src_fd):
        name = entry.name
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(name, 0o700, dir_fd=dst_fd)
            s = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                        dir_fd=src_fd)
            d = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                        dir_fd=dst_fd)
            try:
                copy_tree(s, d)
            finally:
                os.close(s)
                os.close(d)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(name, dir_fd=src_fd), name, dir_fd=dst_fd)
        elif stat.S_ISREG(st.st_mode):
            s = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_fd)
            d = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                        stat.S_IMODE(st.st_mode), dir_fd=dst_fd)
            try:
                with os.fdopen(s, "rb", closefd=False) as fs, os.fdopen(d, "wb", closefd=False) as fdst:
                    shutil.copyfileobj(fs, fdst)
            finally:
                os.close(s)
                os.close(d)
        else:
            continue
        os.chown(name, st.st_uid, st.st_gid, dir_fd=dst_fd, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            # the source's mode whatever our umask (and after chown, which
            # may clear set-id bits)
            os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dst_fd)
