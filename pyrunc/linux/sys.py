"""The syscall seam.

Mount, namespace and rootfs logic call the kernel only through an object
with this interface, so the same logic runs against the real shim or, in
unit tests, against a recording fake (tests/fakesys.py). Every method
raises OSError(errno, strerror, path) on failure.
"""
import os

# constants (linux/mount.h, linux/openat2.h, sched.h)
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_POSIXACL = 1 << 16
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_I_VERSION = 1 << 23
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25

MNT_DETACH = 2

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70
MOUNT_ATTR_RELATIME = 0x0
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_IDMAP = 0x100000
MOUNT_ATTR_NOSYMFOLLOW = 0x200000

AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
AT_SYMLINK_NOFOLLOW = 0x100
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = 0o2000000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOVE_MOUNT_T_EMPTY_PATH = 0x40
FSOPEN_CLOEXEC = 1
FSMOUNT_CLOEXEC = 1
FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

MFD_CLOEXEC = 1
MFD_ALLOW_SEALING = 2
F_ADD_SEALS = 1033
F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE = 1, 2, 4, 8
CLOSE_RANGE_CLOEXEC = 4


# The kernel pyrunc needs (README: "Kernels"). Where a call is newer than
# that, its use has a fallback beside it (mount_setattr -> remounts in
# linux/mounts.py, CLOSE_RANGE_CLOEXEC -> marking each fd); an older kernel
# is refused at once (check_kernel), and an ENOSYS names the call and the
# version that brought it.
MIN_KERNEL = "5.10"
_MIN_WHY = "openat2 5.6, close_range 5.9, MS_NOSYMFOLLOW 5.10"
SINCE = {
    "open_tree": "5.2", "move_mount": "5.2", "fsopen": "5.2", "fsconfig": "5.2",
    "fsmount": "5.2", "pidfd_open": "5.3", "openat2": "5.6", "close_range": "5.9",
    "mount_setattr": "5.12", "memfd_create": "3.17", "setns": "3.0",
    "set_mempolicy": "2.6.7", "sched_setattr": "3.14", "TIOCGPTPEER": "4.13",
}


def check_kernel(release=None):
    """Refuse a kernel older than MIN_KERNEL in one line (before anything is
    made), instead of failing at the first call it lacks."""
    release = release or os.uname().release
    try:
        have = tuple(int(x) for x in release.split("-")[0].split(".")[:2])
    except ValueError:
        return
    if have < tuple(int(x) for x in MIN_KERNEL.split(".")):
        from pyrunc.errors import PyruncError
        raise PyruncError("Linux %s is too old: pyrunc needs Linux %s or newer (%s)"
                          % (release, MIN_KERNEL, _MIN_WHY))


class Syscalls:
    """The real kernel, through pyrunc._shim (built by cffi at install)."""

    def __init__(self):
        from pyrunc._shim import ffi, lib
        self._ffi = ffi
        self._lib = lib

    def _check(self, r, what, path=None):
        if r < 0:
            e = self._ffi.errno
            if e == 38:         # ENOSYS: the kernel is older than the call
                from pyrunc.errors import PyruncError
                raise PyruncError("%s: not implemented by this kernel (Linux %s; the call "
                                  "needs Linux %s)" % (what, os.uname().release,
                                                       SINCE.get(what, MIN_KERNEL)))
            raise OSError(e, "%s: %s" % (what, os.strerror(e)), path)
        return r

    @staticmethod
    def _s(v):
        return v.encode() if isinstance(v, str) else (v if v is not None else None)

    def unshare(self, flags):
        return self._check(self._lib.pyrunc_unshare(flags), "unshare")

    def setns(self, fd, nstype=0):
        return self._check(self._lib.pyrunc_setns(fd, nstype), "setns")

    def mount(self, source, target, fstype, flags, data=None):
        s = self._s
        ffi = self._ffi
        return self._check(self._lib.pyrunc_mount(
            s(source) or ffi.NULL, s(target), s(fstype) or ffi.NULL, flags,
            s(data) or ffi.NULL), "mount", target)

    def umount2(self, target, flags=0):
        return self._check(self._lib.pyrunc_umount2(self._s(target), flags), "umount", target)

    def pivot_root(self, new_root, put_old):
        return self._check(self._lib.pyrunc_pivot_root(self._s(new_root), self._s(put_old)),
                           "pivot_root", new_root)

    def mount_setattr(self, dirfd, path, flags, attr_set=0, attr_clr=0, propagation=0,
                      userns_fd=0):
        return self._check(self._lib.pyrunc_mount_setattr(
            dirfd, self._s(path), flags, attr_set, attr_clr, propagation, userns_fd),
            "mount_setattr", path or None)

    _has_mount_setattr = None

    def has_mount_setattr(self):
        """Whether the kernel has mount_setattr (5.12), probed once per process
        with a call that can only fail: EBADF/EINVAL if it exists, ENOSYS if not.
        PYRUNC_TEST_LACKS=mount_setattr makes the tests take the fallback."""
        if Syscalls._has_mount_setattr is None:
            r = self._lib.pyrunc_mount_setattr(-1, b"", 0, 0, 0, 0, 0)
            Syscalls._has_mount_setattr = not (r < 0 and self._ffi.errno == 38) and \
                "mount_setattr" not in os.environ.get("PYRUNC_TEST_LACKS", "").split(",")
        return Syscalls._has_mount_setattr

    def open_tree(self, dirfd, path, flags):
        return self._check(self._lib.pyrunc_open_tree(dirfd, self._s(path), flags),
                           "open_tree", path or None)

    def move_mount(self, from_dirfd, from_path, to_dirfd, to_path, flags):
        return self._check(self._lib.pyrunc_move_mount(
            from_dirfd, self._s(from_path), to_dirfd, self._s(to_path), flags), "move_mount")

    def fsopen(self, fsname, flags=FSOPEN_CLOEXEC):
        return self._check(self._lib.pyrunc_fsopen(self._s(fsname), flags), "fsopen", fsname)

    def fsconfig(self, fd, cmd, key=None, value=None, aux=0):
        ffi = self._ffi
        return self._check(self._lib.pyrunc_fsconfig(
            fd, cmd, self._s(key) or ffi.NULL, self._s(value) or ffi.NULL, aux),
            "fsconfig", key)

    def fsmount(self, fd, flags=FSMOUNT_CLOEXEC, attr_flags=0):
        return self._check(self._lib.pyrunc_fsmount(fd, flags, attr_flags), "fsmount")

    def openat2(self, dirfd, path, flags, mode=0, resolve=0):
        return self._check(self._lib.pyrunc_openat2(dirfd, self._s(path), flags, mode, resolve),
                           "openat2", path)

    def mknodat(self, dirfd, path, mode, major, minor):
        return self._check(self._lib.pyrunc_mknodat(dirfd, self._s(path), mode, major, minor),
                           "mknod", path)

    def sethostname(self, name):
        b = name.encode()
        return self._check(self._lib.pyrunc_sethostname(b, len(b)), "sethostname")

    def setdomainname(self, name):
        b = name.encode()
        return self._check(self._lib.pyrunc_setdomainname(b, len(b)), "setdomainname")

    def prctl(self, option, a2=0, a3=0, a4=0, a5=0):
        return self._check(self._lib.pyrunc_prctl(option, a2, a3, a4, a5), "prctl")

    def last_cap(self):
        return self._lib.pyrunc_capget_last()

    def memfd_create(self, name, flags):
        return self._check(self._lib.pyrunc_memfd_create(self._s(name), flags), "memfd_create")

    def close_range(self, first, last=0xFFFFFFFF, flags=0):
        r = self._lib.pyrunc_close_range(first, last, flags)
        if r < 0 and flags & CLOSE_RANGE_CLOEXEC and self._ffi.errno in (22, 38):
            # CLOSE_RANGE_CLOEXEC is Linux 5.11 (close_range itself 5.9):
            # mark each open fd instead, as runc does
            return cloexec_from(first, last)
        return self._check(r, "close_range")

    def personality(self, persona):
        return self._check(self._lib.pyrunc_personality(persona), "personality")

    def ioprio_set(self, which, who, ioprio):
        return self._check(self._lib.pyrunc_ioprio_set(which, who, ioprio), "ioprio_set")

    def sched_setattr(self, pid, policy, flags, nice, priority, runtime, deadline, period):
        return self._check(self._lib.pyrunc_sched_setattr(
            pid, policy, flags, nice, priority, runtime, deadline, period), "sched_setattr")

    def set_mempolicy(self, mode, nodes):
        ffi = self._ffi
        maxnode = (max(nodes) + 2) if nodes else 0
        words = (maxnode + 63) // 64 or 1
        mask = ffi.new("unsigned long[]", words)
        for n in nodes:
            mask[n // 64] |= 1 << (n % 64)
        return self._check(self._lib.pyrunc_set_mempolicy(
            mode, mask if nodes else ffi.NULL, maxnode), "set_mempolicy")

    def mnt_id(self, fd):
        return self._check(self._lib.pyrunc_mnt_id(fd), "statx")

    def fstatfs_type(self, fd):
        return self._check(self._lib.pyrunc_fstatfs_type(fd), "fstatfs")

    def tiocgptpeer(self, master, flags):
        return self._check(self._lib.pyrunc_tiocgptpeer(master, flags), "TIOCGPTPEER")


def cloexec_from(first, last=0xFFFFFFFF):
    """Set FD_CLOEXEC on every open fd in [first, last] (/proc/self/fd)."""
    import fcntl
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if first <= fd <= last:
            try:
                fl = fcntl.fcntl(fd, fcntl.F_GETFD)
                fcntl.fcntl(fd, fcntl.F_SETFD, fl | fcntl.FD_CLOEXEC)
            except OSError:
                pass            # the listing's own fd, closed by now
    return 0


_real = None


def real():
    """The process-wide real Syscalls (the shim is loaded on first use)."""
    global _real
    if _real is None:
        _real = Syscalls()
    return _real


def connect_unix(path, what):
    """A connected AF_UNIX stream socket's fd, or a one-line error."""
    import _socket
    from pyrunc.errors import PyruncError
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise PyruncError("%s %s: %s" % (what, path, os.strerror(e.errno).lower())) from None
    return s.detach()
