"""cgroup management for pyrunc: detection and the one driver interface.

This module is on the hot path of ``create``: it imports nothing but ``os``;
each driver lives in its own module and is imported only when needed.

Drivers (``detect(root)`` picks one)
  * ``"v2"``     unified hierarchy at ``root`` (``root/cgroup.controllers``
                 exists): module ``v2``.
  * ``"hybrid"`` v1 hierarchies under ``root/<controller>`` plus a cgroup2
                 mount at ``root/unified``: module ``hybrid``.  The container
                 joins every v1 hierarchy *and* the unified one (as runc);
                 controllers bound only to cgroup2 (hugetlb on this host, or
                 rdma) and ``unified`` keys are applied there.
  * ``"v1"``     v1 hierarchies only: module ``v1``.
  A v1 hierarchy is a sub-directory of ``root`` holding ``cgroup.procs``
  whose name lists its controllers (``cpu,cpuacct``; ``systemd`` means
  ``name=systemd``); symlinks to co-mounted hierarchies are skipped.

Interface
  detect(root="/sys/fs/cgroup") -> "v1" | "v2" | "hybrid"
  new_manager(cgroups_path, container_id, *, root="/sys/fs/cgroup",
              systemd=False, own_cgroup=None, driver=None) -> Manager
      cgroupsPath absolute: relative to each hierarchy root.  Relative:
      relative to pyrunc's own cgroup in that hierarchy (``own_cgroup``: a
      dict controller -> path as in /proc/self/cgroup, "" for cgroup2, or a
      single path; default: read /proc/self/cgroup).  Absent or empty:
      ``/pyrunc/<id>``.  ``..`` can not climb above the hierarchy root.
      ``systemd=True``: the systemd driver (``systemd.py``, cgroup v2 only),
      cgroupsPath ``slice:prefix:name``.
  Manager.from_dict(d)   rebuild from ``to_dict()`` (state dir record).
  m.create()             mkdir -p in every hierarchy, remembering what it
                         created; a pre-existing cgroup with processes is
                         refused, and so is a frozen one.
  m.apply(res, default_devices=True)  write every resource file.  A
                         controller the config refers to that is missing is
                         an error.  Device rules: deny-all, the config rules
                         in order, then ``devices.DEFAULT_RULES`` (v1 files or
                         a v2 eBPF program).  ``apply(None)`` still sets up
                         the device rules (deny-all + defaults), as runc.
  m.update(res)          like apply, without touching device rules; the
                         caller merges (``resources.merge_update``) or passes
                         ``resources.only_set(update)``.
  m.add_pid(pid)         write pid to cgroup.procs in every hierarchy.
  m.pids() -> [int]      every pid in the container cgroup, recursively.
  m.freeze() / m.thaw() / m.frozen() -> bool
  m.freezer_file() -> str|None  file whose content is FROZEN (v1) or 1 (v2)
                         while paused, for a cheap ``state`` check.
  m.stats() -> dict      the "data" object of ``runc events --stats``.
  m.oom_count() -> int   oom_kill counter (for OOM notifications).
  m.kill_all(sig)        signal every process (freeze, signal, thaw; v2
                         SIGKILL uses cgroup.kill).
  m.destroy()            remove only the dirs this manager created, deepest
                         first, retrying while processes exit; sub-cgroups
                         the container made inside its own cgroup go too.
                         A created ancestor that still holds another
                         container's cgroup is kept (and stays in
                         ``m.created``).
  m.to_dict()            JSON-serialisable record.
  m.warnings             list of non-fatal messages for the caller to log.

Every file access goes through the module-level functions ``read_file``,
``write_file``, ``mkdir``, ``rmdir`` and ``kill`` below (looked up at call
time), and every path starts at ``m.root``, so tests run the same logic on a
fake cgroupfs tree in a temp dir.  Set ``m.trace = []`` to record the
sequence of ``(path, value)`` writes.
"""

import os

DEFAULT_ROOT = "/sys/fs/cgroup"


from pyrunc.errors import PyruncError


class CgroupError(PyruncError):
    """A cgroup operation failed; the message is meant for the user."""


# --- the file-system seam -----------------------------------------------

def _oserr(op, path, e):
    msg = (e.strerror or str(e)).lower()
    err = CgroupError("%s %s: %s" % (op, path, msg))
    err.errno = e.errno
    return err


def read_file(path):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise _oserr("open", path, e) from None
    try:
        chunks = []
        while True:
            b = os.read(fd, 65536)
            if not b:
                break
            chunks.append(b)
    except OSError as e:
        raise _oserr("read", path, e) from None
    finally:
        os.close(fd)
    return b"".join(chunks).decode()


def write_file(path, data):
    """One write(2) of ``data``: cgroupfs parses each write separately."""
    if not isinstance(data, bytes):
        data = str(data).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except OSError as e:
        raise _oserr("open", path, e) from None
    try:
        os.write(fd, data)
    except OSError as e:
        raise _oserr("write %r to" % data.decode(errors="replace"), path, e) from None
    finally:
        os.close(fd)


def mkdir(path):
    os.mkdir(path, 0o755)


def rmdir(path):
    os.rmdir(path)


def kill(pid, sig):
    os.kill(pid, sig)


# --- detection and paths --------------------------------------------------

def detect(root=DEFAULT_ROOT):
    if os.path.exists(root + "/cgroup.controllers"):
        return "v2"
    if os.path.exists(root + "/unified/cgroup.controllers"):
        return "hybrid"
    return "v1"


def own_cgroups(proc_file="/proc/self/cgroup"):
    """{controller: path} from /proc/self/cgroup; "" is the cgroup2 entry."""
    out = {}
    for line in read_file(proc_file).splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[1] == "":
            out[""] = parts[2]
        for c in parts[1].split(","):
            if c:
                out[c] = parts[2]
    return out


class Warmup:
    """Pay the kernel's first-migration wait while the caller works.

    Every migration (a write to cgroup.procs, v1 or v2) takes the global
    threadgroup rwsem for writing; after a quiet spell that waits for an RCU
    grace period (8-12 ms on the 2-core development machine), and for about
    one more grace period after a write the next one is fast (0.1 ms). So
    ``create`` starts this at its beginning: a thread writes "0" (itself)
    to the cgroup.procs of the cgroup pyrunc already is in, a migration that
    changes nothing, and repeats that every few ms until ``stop()`` (before
    the fork), so that the real migration of the init finds the rwsem
    warm. Any error (rootless, a read-only cgroupfs) just ends the thread."""

    PERIOD = 0.003

    def __init__(self, root=DEFAULT_ROOT, proc_file="/proc/self/cgroup"):
        import _thread
        self._stop = _thread.allocate_lock()
        self._stop.acquire()
        self._done = _thread.allocate_lock()
        self._done.acquire()
        self.writes = 0
        try:
            self.target = self._target(root, proc_file)
        except (OSError, ValueError, CgroupError):
            self.target = None
        if self.target is None:
            self._done.release()
        else:
            _thread.start_new_thread(self._loop, ())

    @staticmethod
    def _target(root, proc_file):
        """cgroup.procs of the caller's own cgroup, first hierarchy that has it."""
        v2 = root if os.path.exists(root + "/cgroup.controllers") else root + "/unified"
        for ctl, path in own_cgroups(proc_file).items():
            base = v2 if ctl == "" else root + "/" + ctl.replace("name=", "")
            f = base + path.rstrip("/") + "/cgroup.procs"
            if os.path.exists(f):
                return f
        return None

    def _loop(self):
        try:
            fd = os.open(self.target, os.O_WRONLY | os.O_CLOEXEC)
            try:
                while True:
                    os.write(fd, b"0")
                    self.writes += 1
                    if self._stop.acquire(True, self.PERIOD):
                        break
            finally:
                os.close(fd)
        except OSError:
            pass
        finally:
            self._done.release()

    def stop(self):
        """End the thread and wait for it (a write in progress finishes)."""
        if self._stop.locked():
            self._stop.release()
        self._done.acquire()
        self._done.release()


# The first write waits the whole grace period, and holds the global
# cgroup_mutex meanwhile: any mkdir of a cgroup waits for it too. So the CLI
# starts the Warmup as soon as it knows the command will migrate a process
# (create, run, exec), before that command's imports; create and exec take
# it over (a few ms more lead than starting it there: `run` waited up to 4
# ms for the first write at its fork).
_started = None


def start_warmup():
    global _started
    if _started is None:
        _started = Warmup()


def take_warmup():
    """The Warmup start_warmup() began, else a new one; the caller stops it."""
    global _started
    w, _started = _started, None
    return w if w is not None else Warmup()


def stop_warmup():
    """Stop the one start_warmup() began, if any (nothing to migrate)."""
    global _started
    w, _started = _started, None
    if w is not None:
        w.stop()


def parse_sub_cgroups(values):
    """``exec --cgroup`` arguments (runc): ``PATH`` for every controller, or
    ``CTL[,CTL...]:PATH``; returns {controller or "": path}."""
    out = {}
    for v in values or ():
        ctls, sep, path = v.partition(":")
        if not sep:
            if "" in out:
                raise CgroupError("invalid --cgroup argument(s): multiple paths "
                                  "specified for all controllers")
            out[""] = v
            continue
        for c in ctls.split(","):
            if not c:
                raise CgroupError("invalid --cgroup argument: %s (empty <controller> "
                                  "prefix)" % v)
            if c in out:
                raise CgroupError("invalid --cgroup argument(s): controller %s "
                                  "specified multiple times" % c)
            out[c] = path
    return out


def clean_path(p):
    """Lexically clean an absolute cgroup path; '..' stops at '/'."""
    p = os.path.normpath("/" + p)
    if p.startswith("//"):
        p = "/" + p.lstrip("/")
    return p


def resolve_path(cgroups_path, container_id, controllers, own):
    """Inner path (from a hierarchy root) for a hierarchy with the given
    controller names (first known one wins for relative paths)."""
    p = cgroups_path or ("/pyrunc/" + container_id)
    if p.startswith("/"):
        inner = clean_path(p)
    else:
        base = "/"
        if isinstance(own, str):
            base = own
        else:
            for c in controllers:
                if c in own:
                    base = own[c]
                    break
        inner = clean_path(base + "/" + p)
    if inner == "/":
        raise CgroupError("invalid cgroupsPath %r: resolves to the cgroup root"
                          % cgroups_path)
    return inner


def new_manager(cgroups_path, container_id, *, root=DEFAULT_ROOT, systemd=False,
                own_cgroup=None, driver=None):
    kind = driver or detect(root)
    if systemd:
        from pyrunc.linux.cgroups import systemd as sd
        sd.check()
        if kind != "v2":
            raise CgroupError("the systemd cgroup driver needs a pure cgroup v2 host "
                              "(this one is %s): run without --systemd-cgroup" % kind)
        return sd.SystemdManager.new(root, cgroups_path, container_id, {}, True)
    cls = driver_class(kind)
    explicit = bool(cgroups_path)
    if own_cgroup is None and cgroups_path and not cgroups_path.startswith("/"):
        own_cgroup = own_cgroups()
    return cls.new(root, cgroups_path, container_id, own_cgroup or {}, explicit)


def driver_class(kind):
    if kind == "v1":
        from pyrunc.linux.cgroups.v1 import V1Manager as cls
    elif kind == "v2":
        from pyrunc.linux.cgroups.v2 import V2Manager as cls
    elif kind == "hybrid":
        from pyrunc.linux.cgroups.hybrid import HybridManager as cls
    elif kind == "systemd":
        from pyrunc.linux.cgroups.systemd import SystemdManager as cls
    else:
        raise CgroupError("unknown cgroup driver %r" % (kind,))
    return cls


# --- the common manager -----------------------------------------------------

class Manager:
    """Base of the drivers.  ``paths`` maps a hierarchy key (v1: the mount
    dir name such as ``memory`` or ``cpu,cpuacct``; hybrid also
    ``unified``; v2: ``""``) to the container's inner path."""

    kind = None
    _RMDIR_TRIES = 8

    def __init__(self, root, paths, container_id=None, created=(), explicit=False):
        self.root = root.rstrip("/") or "/"
        self.paths = dict(paths)
        self.id = container_id
        self.created = list(created)
        self.explicit = bool(explicit)
        self.warnings = []
        self.trace = None
        self.dry = False        # see plan()

    # -- record -----------------------------------------------------------
    def to_dict(self):
        return {"driver": self.kind, "root": self.root, "id": self.id,
                "paths": dict(self.paths), "created": list(self.created),
                "explicit": self.explicit}

    @classmethod
    def from_dict(cls, d):
        klass = driver_class(d["driver"])
        return klass(d["root"], d["paths"], d.get("id"), d.get("created", ()),
                     d.get("explicit", False))

    # -- paths --------------------------------------------------------------
    def key_dir(self, key):
        """Absolute hierarchy root for a key."""
        return self.root + "/" + key if key else self.root

    def dir(self, key):
        """Absolute container cgroup dir in the hierarchy ``key``."""
        return self.key_dir(key) + self.paths[key]

    # -- io helpers ---------------------------------------------------------
    def _read(self, path):
        if self.dry and not os.path.isdir(path.rsplit("/", 1)[0]):
            name = path.rsplit("/", 1)[1]
            if name in ("cgroup.procs", "cgroup.subtree_control", "tasks"):
                return ""           # a new cgroup: no processes, nothing enabled
            if name.endswith(".current"):
                return "0"          # and nothing used yet
            path = self._dry_path(path)
        return read_file(path)

    def _write(self, path, value):
        if self.trace is not None:
            self.trace.append((path, str(value)))
        if not self.dry:
            write_file(path, value)

    def _exists(self, path):
        if self.dry:
            path = self._dry_path(path)
        return os.path.exists(path)

    def _dry_path(self, path):
        """A dry run reads a file of a cgroup not made yet from the nearest
        existing ancestor (a new cgroup starts with its parent's values and
        controllers). A root cgroup lacks the controllers' own files
        (memory.max, hugetlb.*): a cgroup just below it shows them."""
        d, name = path.rsplit("/", 1)
        if os.path.isdir(d):
            return path
        while len(d) > len(self.root) and not os.path.isdir(d):
            d = d.rsplit("/", 1)[0]
        p = d + "/" + name
        if not os.path.exists(p):
            try:
                for e in os.scandir(d):
                    if e.is_dir(follow_symlinks=False) and os.path.exists(e.path + "/" + name):
                        return e.path + "/" + name
            except OSError:
                pass
        return p

    def plan(self, resources, default_devices=True, devices=True):
        """What create() and apply() would do, from the same code run dry:
        {"driver", "paths", "mkdir": [dirs], "writes": [[file, value]...]}.
        Nothing is written. A limit the host cannot take raises, as apply."""
        self.dry, self.trace = True, []
        try:
            self._apply(resources, devices, default_devices)
            writes = [list(w) for w in self.trace]
        finally:
            self.dry, self.trace = False, None
        return {"driver": self.kind, "paths": {k: self.dir(k) for k in self.paths},
                "mkdir": self.missing_dirs(), "writes": writes,
                "warnings": list(self.warnings)}

    # -- lifecycle ----------------------------------------------------------
    def _procs_key(self):
        return next(iter(self.paths))

    def _before_child(self, key, parent):
        """Hook run on every level of the path before its child is made."""

    def _init_dir(self, key, path, parent):
        """Hook run on every existing or new level of the path, top-down."""

    def create(self):
        pk = self._procs_key()
        procs_dir = self.dir(pk)
        if os.path.isdir(procs_dir):
            pids = self._collect_pids(procs_dir)
            if pids:
                # another container's processes, or anyone's: never shared
                # (runc 1.2+; 1.1 only warned for an explicit path)
                raise CgroupError("container's cgroup is not empty: %d "
                                  "process(es) found in %s" % (len(pids), procs_dir))
        for key in self.paths:
            self._create_one(key)
        # a process moved into a frozen cgroup stops at once, in the middle of
        # our set-up: refuse (as runc) instead of waiting for a thaw. Checked
        # after the mkdirs: a new cgroup under a frozen parent is frozen too.
        if self.frozen_effective():
            raise CgroupError("container's cgroup unexpectedly frozen: %s (thaw it first)"
                              % self.freezer_file())

    def missing_dirs(self):
        """The dirs create() would make now, top-down: recorded in the state
        before any mkdir, so that a create killed half way still tells
        `delete` what may be there."""
        out = []
        for key in self.paths:
            cur = self.key_dir(key)
            for part in self.paths[key].strip("/").split("/"):
                cur = cur + "/" + part
                if not os.path.isdir(cur):
                    out.append(cur)
        return out

    def _create_one(self, key, tries=3):
        cur = self.key_dir(key)
        for part in self.paths[key].strip("/").split("/"):
            parent, cur = cur, cur + "/" + part
            self._before_child(key, parent)
            if not os.path.isdir(cur):
                try:
                    mkdir(cur)
                except FileExistsError:
                    pass
                except FileNotFoundError as e:
                    # another container's destroy removed a shared ancestor
                    # between our isdir() and mkdir(): walk again
                    if tries > 1 and os.path.isdir(self.key_dir(key)):
                        return self._create_one(key, tries - 1)
                    raise _oserr("mkdir", cur, e) from None
                except OSError as e:
                    raise _oserr("mkdir", cur, e) from None
                else:
                    if cur not in self.created:
                        self.created.append(cur)
            self._init_dir(key, cur, parent)

    def add_pid(self, pid):
        for key in self.paths:
            self._write(self.dir(key) + "/cgroup.procs", pid)

    # -- exec ----------------------------------------------------------------
    def exec_dirs(self, subs):
        """{key: dir} an exec'd process joins: the container's cgroup, or a
        sub-cgroup of it per ``exec --cgroup`` (``parse_sub_cgroups``): a
        path for every controller ("" key) and/or per controller."""
        known = set()
        out = {}
        for key in self.paths:
            ctls = set(key.replace("name=", "").split(",")) if key and key != "unified" else set()
            known |= ctls
            sub = subs.get("")
            for c in ctls:
                if c in subs:
                    sub = subs[c]
            base = self.dir(key)
            if sub is None:
                out[key] = base
                continue
            d = os.path.normpath(base + "/" + sub)
            if d != base and not d.startswith(base + "/"):
                raise CgroupError("bad sub cgroup path: %s" % sub)
            out[key] = d
        for c in subs:
            if c and c not in known:
                if self.kind in ("v2", "systemd"):
                    raise CgroupError("invalid --cgroup argument %s:%s: controller-specific "
                                      "paths need cgroup v1" % (c, subs[c]))
                raise CgroupError("unknown controller %s" % c)
        return out

    def add_exec_pid(self, pid, dirs, init_pid=None):
        """Move an exec'd process into ``dirs`` (``exec_dirs``). On cgroup v2
        a container cgroup that now has domain controllers enabled below it
        cannot take a process (EBUSY, no internal processes): without an
        explicit --cgroup the process joins the init's current cgroup
        instead, as runc does."""
        try:
            for d in dirs.values():
                self._write(d + "/cgroup.procs", pid)
        except CgroupError as e:
            if (getattr(e, "errno", None) == 16 and init_pid and self.kind in ("v2", "systemd")
                    and set(dirs.values()) == {self.dir(k) for k in self.paths}):
                own = own_cgroups("/proc/%d/cgroup" % init_pid).get("")
                if own is not None:
                    try:
                        return self._write(self.key_dir("") + own.rstrip("/") + "/cgroup.procs",
                                           pid)
                    except CgroupError as e2:
                        e = e2
            raise CgroupError("adding pid %d to cgroups: %s" % (pid, e)) from None

    def _collect_pids(self, top):
        out = []
        for d, subdirs, _files in os.walk(top):
            try:
                text = self._read(d + "/cgroup.procs")
            except CgroupError:
                continue
            out.extend(int(x) for x in text.split())
        return out

    def pids(self):
        d = self.dir(self._procs_key())
        if not os.path.isdir(d):
            return []
        return sorted(set(self._collect_pids(d)))

    def kill_all(self, sig):
        pids = self.pids()
        if not pids:
            return
        was_frozen = True
        try:
            was_frozen = self.frozen()
            if not was_frozen:
                self.freeze()
        except CgroupError:
            was_frozen = True
        try:
            for pid in self.pids():
                try:
                    kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if not was_frozen:
                self.thaw()

    def _rmdir_retry(self, path):
        import time
        delay = 0.01
        for i in range(self._RMDIR_TRIES):
            try:
                rmdir(path)
                return None
            except FileNotFoundError:
                return None
            except OSError as e:
                import errno
                if e.errno not in (errno.EBUSY, errno.ENOTEMPTY, errno.EAGAIN):
                    return e
                if i == self._RMDIR_TRIES - 1:
                    return e
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        return None

    def _remove_tree(self, path):
        """Remove the container's own cgroup and any sub-cgroups made inside
        it (by the container), deepest first."""
        try:
            rmdir(path)     # the usual case, no sub-cgroup: one call
            return []
        except FileNotFoundError:
            return []
        except OSError:
            pass            # EBUSY: sub-cgroups (or processes), below
        errs = []
        try:
            subdirs = [e.path for e in os.scandir(path) if e.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            return errs
        for s in subdirs:
            errs.extend(self._remove_tree(s))
        e = self._rmdir_retry(path)
        if e is not None:
            errs.append(_oserr("rmdir", path, e))
        return errs

    def destroy(self):
        leaves = {self.dir(k) for k in self.paths}
        errs = []
        remaining = []
        for d in sorted(self.created, key=lambda p: p.count("/"), reverse=True):
            if d in leaves:
                e = self._remove_tree(d)
                if e:
                    errs.extend(e)
                    remaining.append(d)
            else:
                # an ancestor we made: other containers may live under it now
                try:
                    busy = any(x.is_dir(follow_symlinks=False) for x in os.scandir(d))
                except FileNotFoundError:
                    continue
                if busy:
                    remaining.append(d)
                    continue
                e = self._rmdir_retry(d)
                if e is not None:
                    import errno
                    if e.errno not in (errno.EBUSY, errno.ENOTEMPTY):
                        errs.append(_oserr("rmdir", d, e))
                    remaining.append(d)
        self.created = [d for d in self.created if d in remaining]
        if not self.explicit:
            self._remove_default_parent(leaves)
        if errs:
            raise CgroupError("; ".join(str(e) for e in errs))

    def _remove_default_parent(self, leaves):
        """The default parent (/pyrunc) belongs to pyrunc whoever made it:
        the last container out removes it (once, without retries; a busy or
        non-empty parent simply stays)."""
        for leaf in leaves:
            parent = leaf.rsplit("/", 1)[0]
            if parent.rsplit("/", 1)[-1] != "pyrunc" or parent in self.created:
                continue
            try:
                rmdir(parent)
            except (CgroupError, OSError):
                pass

    # -- driver specific ----------------------------------------------------
    def apply(self, resources, default_devices=True, devices=True):
        """devices=False: no device filter (rootless: an unprivileged user may
        not load one, and its container has only the host's nodes, bound)."""
        self._apply(resources, devices, default_devices)

    def update(self, resources):
        self._apply(resources, False, False)

    def _apply(self, resources, devices, default_devices):
        raise NotImplementedError

    def freeze(self):
        raise NotImplementedError

    def thaw(self):
        raise NotImplementedError

    def frozen_effective(self):
        """Frozen by itself or by an ancestor (the driver's freezer)."""
        return False

    def frozen(self):
        raise NotImplementedError

    def freezer_file(self):
        raise NotImplementedError

    def stats(self):
        raise NotImplementedError

    def oom_count(self):
        raise NotImplementedError


def flat_key(text, key):
    """Value of ``key`` in a flat-keyed file ("key value" lines), or 0."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == key:
            return int(parts[1])
    return 0
