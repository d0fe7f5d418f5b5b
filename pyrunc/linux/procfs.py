"""A private, verified procfs handle for every write under /proc.

The container's own /proc may be a symlink, a bind of something else or be
swapped by a racing container (CVE-2019-16884, CVE-2025-52881). pyrunc
never writes through it: it makes a fresh, detached procfs instance with
fsopen/fsmount (of the pid namespace it is in), checks its magic, and
opens files beneath it with RESOLVE_BENEATH | RESOLVE_NO_XDEV |
RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS.
"""
import os

from pyrunc.errors import PyruncError
from pyrunc.linux import sys as S

PROC_SUPER_MAGIC = 0x9FA0

# A procfs shows, and belongs to, the pid namespace of whoever fsopen()ed
# it. When pyrunc joins a pid namespace by path, its init stays outside that
# namespace until the init helper forks the process into it, so:
#  - contexts: procfs contexts made inside it (csrc/init.c --proc-context),
#    one per proc mount of config.json (fsopen() takes them);
#  - preopened: the private handle, opened by pyrunc before it forks, of
#    the pid namespace the init really is in (its /proc/<pid>/ must exist
#    there, and a user namespace may not mount the host's procfs).
contexts = []
preopened = None


def unescape(field):
    """A path field of /proc/*/mountinfo as the kernel wrote it: space, tab,
    newline and backslash come as three octal digits after a backslash."""
    if "\\" not in field:
        return field
    head, *rest = field.split("\\")
    out = [head]
    for part in rest:
        digits = part[:3]
        if len(digits) == 3 and all("0" <= c <= "7" for c in digits):
            out.append(chr(int(digits, 8)) + part[3:])
        else:
            out.append("\\" + part)
    return "".join(out)


def fsopen(sysc):
    """A new procfs context (fsopen("proc")) for a proc mount: of the
    container's pid namespace."""
    return contexts.pop(0) if contexts else sysc.fsopen("proc")
RESOLVE = _RES = S.RESOLVE_BENEATH | S.RESOLVE_NO_XDEV | S.RESOLVE_NO_MAGICLINKS | S.RESOLVE_NO_SYMLINKS


class Procfs:
    def __init__(self, sysc, fd):
        self.sysc = sysc
        self.fd = fd

    @classmethod
    def open(cls, sysc):
        if preopened is not None:
            return cls(sysc, os.dup(preopened.fd))
        fs = sysc.fsopen("proc")
        try:
            sysc.fsconfig(fs, S.FSCONFIG_CMD_CREATE)
            m = sysc.fsmount(fs, S.FSMOUNT_CLOEXEC,
                             S.MOUNT_ATTR_NOSUID | S.MOUNT_ATTR_NODEV | S.MOUNT_ATTR_NOEXEC)
        finally:
            os.close(fs)
        p = cls(sysc, m)
        p.verify()
        return p

    def verify(self):
        if self.sysc.fstatfs_type(self.fd) != PROC_SUPER_MAGIC:
            raise PyruncError("procfs handle is not procfs")

    def write(self, rel, value):
        """Write value to <proc>/<rel>, where rel must not go through a symlink."""
        fd = self.sysc.openat2(self.fd, rel, os.O_WRONLY | os.O_CLOEXEC | os.O_NOCTTY, 0, _RES)
        try:
            if self.sysc.fstatfs_type(fd) != PROC_SUPER_MAGIC:
                raise PyruncError("/proc/%s is not on procfs" % rel)
            os.write(fd, value.encode() if isinstance(value, str) else value)
        finally:
            os.close(fd)

    def self_path(self, rel):
        """<pid>/<rel> of the calling process in this procfs (self is a symlink)."""
        return "%d/%s" % (os.getpid(), rel)

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


