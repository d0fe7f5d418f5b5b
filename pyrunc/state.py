"""The state store: one directory per container under --root.

<root>/<id>/            mode 0700, created atomically with mkdir(2): a
                        second create of the same id fails on EEXIST.
<root>/<id>/state.json  written atomically (write a temp file, rename).
<root>/<id>/exec.fifo   present while the container is `created`.
<root>/<id>/done.fifo   `start` reads it to learn that the exec happened.

Every command that changes a container takes an flock on the directory, so
two commands on one id never interleave. The status is derived, not stored:
from the recorded pid *and its start time* (a recycled pid never makes a
dead container look alive), the exec fifo and the freezer.
"""
import os

from pyrunc.errors import ContainerExists, NotFound, PyruncError, UsageError

MAX_ID_LEN = 1024
_ID_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_ID_REST = _ID_FIRST | frozenset("_+.-")


def validate_id(cid):
    """runc's id rule: [A-Za-z0-9][A-Za-z0-9_+.-]*, never . or .., bounded."""
    if not cid:
        raise UsageError("container id cannot be empty")
    if len(cid) > MAX_ID_LEN:
        raise PyruncError("invalid container id: longer than %d characters" % MAX_ID_LEN)
    if cid[0] not in _ID_FIRST or not set(cid) <= _ID_REST or cid in (".", ".."):
        raise PyruncError("invalid container id: %r" % cid)
    return cid


def proc_stat(pid):
    """(state letter, start time in clock ticks) of pid, or None if gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may contain spaces and parentheses: split after the last ')'
    fields = data[data.rindex(b")") + 2:].split()
    return fields[0].decode(), int(fields[19])


def pid_alive(pid, start_time):
    if not pid:
        return False
    st = proc_stat(pid)
    if st is None or st[0] in ("Z", "X"):
        return False
    return start_time is None or st[1] == start_time


class Container:
    """One container's state record (the dict stored in state.json)."""

    __slots__ = ("store", "id", "dir", "data", "config", "pty")

    def __init__(self, store, cid, data):
        self.config = None      # the typed config, where the caller has it
        self.pty = None         # run in the foreground with a terminal: our end
        self.store = store
        self.id = cid
        self.dir = os.path.join(store.root, cid)
        self.data = data

    @property
    def pid(self):
        return self.data.get("pid") or 0

    def path(self, name):
        return os.path.join(self.dir, name)

    def status(self):
        d = self.data
        if d.get("status") == "creating":
            # a create that died half way is stopped, not creating forever
            if pid_alive(d.get("creator_pid"), d.get("creator_start")):
                return "creating"
            return "stopped"
        if not pid_alive(d.get("pid"), d.get("pid_start")):
            return "stopped"
        if os.path.exists(self.path("exec.fifo")):
            return "created"
        cg = d.get("cgroup")
        if cg and cg.get("freezer"):
            try:
                with open(cg["freezer"]) as f:
                    v = f.read().strip()
                if v in ("FROZEN", "1"):
                    return "paused"
            except OSError:
                pass
        return "running"

    def state_json(self, status=None):
        """The spec's state plus runc's extra fields callers parse."""
        d = self.data
        status = status or self.status()
        st = {
            "ociVersion": d["ociVersion"],
            "id": self.id,
            "pid": 0 if status == "stopped" else d.get("pid", 0),
            "status": status,
            "bundle": d["bundle"],
            "rootfs": d["rootfs"],
            "created": d["created"],
            "owner": d.get("owner", ""),
        }
        if d.get("annotations"):
            st["annotations"] = d["annotations"]
        return st

    def save(self):
        self.store.write(self.id, self.data)


class Store:
    def __init__(self, root):
        self.root = os.path.abspath(root)

    def _ensure_root(self):
        try:
            os.makedirs(self.root, 0o700, exist_ok=True)
        except OSError as e:
            raise PyruncError("cannot create state root %s: %s" % (self.root, os.strerror(e.errno).lower()))

    def create(self, cid, data):
        """Atomically claim the id; returns the new Container."""
        validate_id(cid)
        self._ensure_root()
        try:
            os.mkdir(os.path.join(self.root, cid), 0o700)
        except FileExistsError:
            raise ContainerExists() from None
        c = Container(self, cid, data)
        c.save()
        return c

    def load(self, cid):
        validate_id(cid)
        from pyrunc.fastjson import loads
        try:
            with open(os.path.join(self.root, cid, "state.json"), "rb") as f:
                data = loads(f.read())
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound() from None
        except ValueError:
            # a state dir whose state.json is being written for the first time
            raise NotFound() from None
        return Container(self, cid, data)

    def write(self, cid, data):
        from pyrunc.fastjson import dumps
        d = os.path.join(self.root, cid)
        tmp = os.path.join(d, ".state.json.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, dumps(data).encode())
        finally:
            os.close(fd)
        os.rename(tmp, os.path.join(d, "state.json"))

    def ids(self):
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if not n.startswith("."))

    def remove(self, cid):
        d = os.path.join(self.root, cid)
        try:
            for name in os.listdir(d):
                os.unlink(os.path.join(d, name))
            os.rmdir(d)
        except FileNotFoundError:
            pass

    def lock(self, cid):
        """An exclusive flock on the container directory (released on close)."""
        import fcntl
        try:
            fd = os.open(os.path.join(self.root, cid), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFound() from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd
