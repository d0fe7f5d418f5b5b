"""Resolving container paths inside the rootfs.

Every path of the container (mount destinations, devices, masked paths,
cwd) is opened relative to an O_PATH fd of the rootfs with openat2 and
RESOLVE_IN_ROOT, so a symlink in the image (absolute, or ../../..) can
never lead out of the rootfs (CVE-2021-30465, CVE-2024-45310,
CVE-2026-41579). Missing components are created with mkdirat relative to
their parent's fd, never by re-resolving a string.
"""
import os
import stat

from pyrunc.linux import sys as S

O_PATH = os.O_PATH
_RES = S.RESOLVE_IN_ROOT | S.RESOLVE_NO_MAGICLINKS


def open_in_root(sysc, rootfd, path, flags=O_PATH | os.O_CLOEXEC, resolve=_RES):
    rel = path.lstrip("/") or "."
    return sysc.openat2(rootfd, rel, flags, 0, resolve)


def mkdir_all(sysc, rootfd, path, mode=0o755):
    """Create path (and parents) inside the root; returns an O_PATH fd of it."""
    parts = [p for p in path.split("/") if p and p != "."]
    fd = os.dup(rootfd)
    try:
        for i, name in enumerate(parts):
            if name == "..":
                # resolve '..' safely by reopening the prefix in the root
                nfd = open_in_root(sysc, rootfd, "/".join(parts[:i + 1]))
            else:
                try:
                    nfd = sysc.openat2(fd, name, O_PATH | os.O_CLOEXEC, 0, _RES)
                except FileNotFoundError:
                    try:
                        os.mkdir(name, mode, dir_fd=fd)
                    except FileExistsError:
                        pass
                    nfd = sysc.openat2(fd, name, O_PATH | os.O_CLOEXEC | os.O_NOFOLLOW, 0,
                                       _RES)
            os.close(fd)
            fd = nfd
            st = os.fstat(fd)
            if not stat.S_ISDIR(st.st_mode):
                raise NotADirectoryError(20, "not a directory", "/" + "/".join(parts[:i + 1]))
        return fd
    except BaseException:
        os.close(fd)
        raise


def create_file(sysc, rootfd, path, mode=0o644):
    """Ensure path exists as a (possibly empty) file inside the root; O_PATH fd."""
    parent, _, name = path.rstrip("/").rpartition("/")
    pfd = mkdir_all(sysc, rootfd, parent or "/")
    try:
        try:
            return sysc.openat2(pfd, name, O_PATH | os.O_CLOEXEC, 0, _RES)
        except FileNotFoundError:
            pass
        fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW,
                     mode, dir_fd=pfd)
        os.close(fd)
        return sysc.openat2(pfd, name, O_PATH | os.O_CLOEXEC | os.O_NOFOLLOW, 0, _RES)
    finally:
        os.close(pfd)


def fd_path(fd):
    """The path of an fd, for error messages only (never to act on)."""
    try:
        return os.readlink("/proc/self/fd/%d" % fd)
    except OSError:
        return "fd %d" % fd
