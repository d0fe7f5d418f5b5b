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


_MAXLINKS = 40


def where_in_root(sysc, rootfd, path):
    """(host path, exists) that a container path names, for the plan: its
    longest existing prefix opened as create opens it (RESOLVE_IN_ROOT),
    the rest appended as mkdir_all would make it. Creates nothing."""
    parts = _parts(path)
    for n in range(len(parts), -1, -1):
        try:
            fd = open_in_root(sysc, rootfd, "/".join(parts[:n]))
        except OSError:
            continue
        try:
            base = os.readlink("/proc/self/fd/%d" % fd)
        finally:
            os.close(fd)
        return os.path.join(base, *parts[n:]), n == len(parts)
    return None, False


def _parts(path):
    # '..' can never climb out of the root; folding it here matches what
    # RESOLVE_IN_ROOT does with it at the root, and keeps the walk simple
    return [p for p in os.path.normpath("/" + path).split("/") if p]


def _follow(parent_parts, name, fd, rest):
    """name in fd is a symlink (dangling, or we would have resolved it):
    the path to continue with, resolved as if the rootfs were /."""
    target = os.readlink(name, dir_fd=fd)
    base = "" if target.startswith("/") else "/".join(parent_parts)
    return "/".join(x for x in (base, target, "/".join(rest)) if x)


def mkdir_all(sysc, rootfd, path, mode=0o755, _links=0):
    """Create path (and parents) inside the root and return an O_PATH fd of
    it, as runc's MkdirAllInRoot: symlinks, dangling ones too, are followed
    as if the rootfs were /, never out of it; new components are made with
    mkdirat relative to their parent's fd, and opened without following."""
    if _links > _MAXLINKS:
        raise OSError(40, "too many levels of symbolic links", path)
    parts = _parts(path)
    i = len(parts)
    fd = None
    while i > 0:                        # the longest prefix that exists
        try:
            fd = open_in_root(sysc, rootfd, "/".join(parts[:i]))
            break
        except FileNotFoundError:
            i -= 1
    if fd is None:
        fd = os.dup(rootfd)
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            raise NotADirectoryError(20, "not a directory", "/" + "/".join(parts[:i]))
        for j in range(i, len(parts)):
            name = parts[j]
            try:
                os.mkdir(name, mode, dir_fd=fd)
            except FileExistsError:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    newpath = _follow(parts[:j], name, fd, parts[j + 1:])
                    os.close(fd)
                    fd = None
                    return mkdir_all(sysc, rootfd, newpath, mode, _links + 1)
            nfd = sysc.openat2(fd, name, O_PATH | os.O_CLOEXEC | os.O_NOFOLLOW, 0,
                               S.RESOLVE_BENEATH | S.RESOLVE_NO_SYMLINKS)
            os.close(fd)
            fd = nfd
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                raise NotADirectoryError(20, "not a directory", "/" + "/".join(parts[:j + 1]))
        return fd
    except BaseException:
        if fd is not None:
            os.close(fd)
        raise


def create_file(sysc, rootfd, path, mode=0o644, _links=0):
    """Ensure path exists inside the root (an empty file if it is new, its
    parents made by mkdir_all); returns an O_PATH fd of it."""
    if _links > _MAXLINKS:
        raise OSError(40, "too many levels of symbolic links", path)
    try:
        return open_in_root(sysc, rootfd, path)
    except FileNotFoundError:
        pass
    parts = _parts(path)
    pfd = mkdir_all(sysc, rootfd, "/".join(parts[:-1]))
    name = parts[-1]
    try:
        try:
            fd = os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC
                         | os.O_NOFOLLOW, mode, dir_fd=pfd)
            os.close(fd)
        except FileExistsError:
            st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):    # a dangling symlink: make its target
                return create_file(sysc, rootfd, _follow(parts[:-1], name, pfd, []), mode,
                                   _links + 1)
        return sysc.openat2(pfd, name, O_PATH | os.O_CLOEXEC | os.O_NOFOLLOW, 0,
                            S.RESOLVE_BENEATH | S.RESOLVE_NO_SYMLINKS)
    finally:
        os.close(pfd)
