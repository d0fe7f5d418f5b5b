"""/dev inside the container: default devices, linux.devices, symlinks.

Everything is created relative to an fd of the container's /dev that
paths.py resolved inside the rootfs, with mknodat/symlinkat and O_EXCL, so
an image whose /dev is a symlink can't make pyrunc create or delete files
on the host (CVE-2026-41579). Inside a user namespace, where mknod is not
allowed, each device is a bind mount of the host's node instead.
"""
import os
import stat

from pyrunc.errors import PyruncError
from pyrunc.linux import mounts, paths

# the devices every container gets (runtime-spec config-linux "Default Devices")
DEFAULT_DEVICES = (
    ("/dev/null", "c", 1, 3), ("/dev/zero", "c", 1, 5), ("/dev/full", "c", 1, 7),
    ("/dev/random", "c", 1, 8), ("/dev/urandom", "c", 1, 9), ("/dev/tty", "c", 5, 0),
)
DEV_SYMLINKS = (
    ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"),
)
_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def dev_is_bind(config):
    return any(m.destination.rstrip("/") == "/dev" and
               ("bind" in m.options or "rbind" in m.options or m.type == "bind")
               for m in config.mounts)


def _make(sysc, rootfd, path, kind, major, minor, mode, uid, gid, bind_host):
    parent, _, name = path.rstrip("/").rpartition("/")
    pfd = paths.mkdir_all(sysc, rootfd, parent or "/")
    try:
        try:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                raise PyruncError("device %s: a directory is in the way" % path)
            os.unlink(name, dir_fd=pfd)
        except FileNotFoundError:
            pass
        if bind_host and kind != "p":
            fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW,
                         0o644, dir_fd=pfd)
            os.close(fd)
            target = sysc.openat2(pfd, name, os.O_PATH | os.O_CLOEXEC | os.O_NOFOLLOW, 0, 0)
            try:
                tree = mounts.bind_tree(sysc, path, False)   # the host's node of the same path
                try:
                    mounts._attach(sysc, tree, target)
                finally:
                    os.close(tree)
            finally:
                os.close(target)
            return
        sysc.mknodat(pfd, name, _TYPES[kind] | (mode & 0o7777), major or 0, minor or 0)
        # mknod honours the umask; set the exact mode and owner
        os.chmod(name, mode & 0o7777, dir_fd=pfd)   # just made: not a symlink
        os.chown(name, uid or 0, gid or 0, dir_fd=pfd, follow_symlinks=False)
    finally:
        os.close(pfd)


def device_list(config):
    """[(path, type, major, minor, mode, uid, gid)] of the nodes /dev gets,
    in order: the default devices (unless /dev is bound from the host),
    then linux.devices."""
    lx = config.linux
    out = []
    if not dev_is_bind(config):
        out += [(path, kind, major, minor, 0o666, 0, 0)
                for path, kind, major, minor in DEFAULT_DEVICES]
    for d in (lx.devices if lx else ()):
        mode = d.file_mode if d.file_mode is not None else 0o666
        if d.type != "p" and (d.major is None or d.minor is None):
            raise PyruncError("device %s: major and minor are required" % d.path)
        out.append((d.path, d.type, d.major, d.minor, mode, d.uid, d.gid))
    return out


def setup_dev(sysc, rootfd, config, nodes, in_userns):
    """The planned nodes (device_list) and the /dev symlinks. In a user
    namespace each node is a bind mount of the host's."""
    bind = dev_is_bind(config)
    for path, kind, major, minor, mode, uid, gid in nodes:
        _make(sysc, rootfd, path, kind, major, minor, mode, uid, gid, in_userns)
    if bind:
        return
    devfd = paths.mkdir_all(sysc, rootfd, "/dev")
    try:
        for name, target in DEV_SYMLINKS:
            try:
                os.symlink(target, name, dir_fd=devfd)
            except FileExistsError:
                pass
        # /dev/ptmx -> pts/ptmx (the devpts instance of the container)
        try:
            st = os.stat("ptmx", dir_fd=devfd, follow_symlinks=False)
            if not stat.S_ISLNK(st.st_mode) or os.readlink("ptmx", dir_fd=devfd) != "pts/ptmx":
                os.unlink("ptmx", dir_fd=devfd)
                raise FileNotFoundError
        except FileNotFoundError:
            os.symlink("pts/ptmx", "ptmx", dir_fd=devfd)
    finally:
        os.close(devfd)
