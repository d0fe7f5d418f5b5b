"""A cache of compiled artefacts, such as the seccomp BPF program of a profile.

Callers hand the same profile over and over (podman and containerd send
their default seccomp profile with every container and every exec), and
libseccomp takes 10-20 ms to build its program each time. An entry holds
the complete text it was made from (the profile and everything else the
result depends on: pyrunc's code, libseccomp, the kernel), and a lookup
compares that text byte for byte: a file name collision, a stale or a
truncated entry is a miss, never a wrong program.

Where: /var/cache/pyrunc for the host's root, ${XDG_CACHE_HOME:-~/.cache}/pyrunc
for anyone else, root in a user namespace included (rootless podman runs
its runtime so); PYRUNC_CACHE_DIR overrides it, and an empty
PYRUNC_CACHE_DIR turns the cache off. A directory or entry that is not
ours alone (another owner, writable by group or others, a symlink) is not
used. Every failure to read or write is a miss: the cache never makes a
call fail.
"""
import os

_MAGIC = b"PYRUNC-CACHE-1\n"
MAX_ENTRIES = 64


def directory():
    d = os.environ.get("PYRUNC_CACHE_DIR")
    if d is not None:
        return d or None
    if os.geteuid() == 0:
        from pyrunc.linux import in_userns
        if not in_userns():
            return "/var/cache/pyrunc"
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.environ["HOME"], ".cache") if os.environ.get("HOME") else None)
    return os.path.join(base, "pyrunc") if base else None


def _name(kind, key):
    # the builtin module, not hashlib (which loads OpenSSL: about 5 ms)
    try:
        from _sha256 import sha256          # Python 3.11
    except ImportError:
        try:
            from _sha2 import sha256        # 3.12 and later
        except ImportError:
            from hashlib import sha256
    return "%s-%s" % (kind, sha256(key).hexdigest()[:40])


def _ours(st, mode_mask):
    return st.st_uid == os.geteuid() and not st.st_mode & mode_mask


def get(kind, key):
    """The bytes stored for (kind, key: bytes), or None."""
    d = directory()
    if d is None:
        return None
    import stat
    try:
        fd = os.open(os.path.join(d, _name(kind, key)), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        dst = os.stat(d, follow_symlinks=False)
        if not (stat.S_ISREG(st.st_mode) and _ours(st, 0o022)
                and stat.S_ISDIR(dst.st_mode) and _ours(dst, 0o022)):
            return None
        data = os.read(fd, st.st_size + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    head = _MAGIC + b"%d\n" % len(key)
    if not (data.startswith(head) and data[len(head):len(head) + len(key)] == key):
        return None
    return data[len(head) + len(key):]


def put(kind, key, value):
    """Store value (bytes) for (kind, key); at most MAX_ENTRIES are kept."""
    d = directory()
    if d is None:
        return
    import stat
    try:
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass
        except FileNotFoundError:
            os.makedirs(d, 0o700)       # ~/.cache may not exist yet
        dst = os.stat(d, follow_symlinks=False)
        if not (stat.S_ISDIR(dst.st_mode) and _ours(dst, 0o022)):
            return
        name = _name(kind, key)
        tmp = os.path.join(d, ".%s.%d" % (name, os.getpid()))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        try:
            os.write(fd, _MAGIC + b"%d\n" % len(key) + key + value)
        finally:
            os.close(fd)
        os.rename(tmp, os.path.join(d, name))
        _trim(d)
    except OSError:
        return


def _trim(d):
    entries = []
    for e in os.scandir(d):
        try:
            entries.append((e.stat(follow_symlinks=False).st_mtime_ns, e.path))
        except OSError:
            pass
    if len(entries) > MAX_ENTRIES:
        entries.sort()
        for _m, path in entries[:len(entries) - MAX_ENTRIES]:
            try:
                os.unlink(path)
            except OSError:
                pass
