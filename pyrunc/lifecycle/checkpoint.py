"""checkpoint and restore through CRIU (the criu command line).

checkpoint: `criu dump` (or `pre-dump`) of the container's process tree
into --image-path, logging to --work-path/dump.log. The container's cgroup
is frozen during the dump (--freeze-cgroup); mounts whose contents come
from outside the container (config.json's bind mounts, the host's
/dev/null on masked paths) are described to CRIU as external, keyed by
their destination; a network namespace joined by path is external too.
Without --leave-running (or --pre-dump) CRIU kills the container and
pyrunc removes what remains of it, as `delete --force` does: afterwards
the container is gone.

restore: a new state entry (the id may differ from the checkpointed one),
the container's cgroup made and its limits applied as create does, then
`criu restore --restore-detached` run from a child that joined that cgroup
(the restored tree is born in it) and that bind-mounted the bundle's rootfs
in a private mount namespace as CRIU's --root. External mounts are mapped
to the restoring bundle's bind sources; stdio pipes of the checkpointed
container are replaced by pyrunc's own stdio (--inherit-fd), as runc does.
prestart and createRuntime hooks run from CRIU's setup-namespaces action
(pyrunc/lifecycle/criu_action.py), poststart after the restore. The
mounts' destinations are created in the rootfs first where missing (a
fresh rootfs: podman's `restore --import`). Without
--detach, restore waits for the container like `run` and deletes it.

Files pyrunc adds to the image directory: descriptors.json (what fds 0-2
were) and pyrunc-externals.json (external mount keys and a fallback host
path for each).
"""
import json
import os
import shutil
import subprocess

from pyrunc import OCI_VERSION, log
from pyrunc.errors import PyruncError
from pyrunc.linux import procfs
from pyrunc.state import Store, proc_stat

MANAGE_CGROUPS_MODES = ("soft", "full", "strict", "ignore")
EMPTY_NS = {"network": "net", "net": "net"}
NET_KEY = "extRootNetNS"
DESCRIPTORS = "descriptors.json"
EXTERNALS = "pyrunc-externals.json"
# what `features` reports: what tests/test_checkpoint.py exercises (the
# other runc flags are passed to CRIU as they are, untested here)
FEATURES = ("image-path", "work-path", "leave-running", "external-bind-mounts",
            "restore-new-id", "restore-bundle", "restore-detach", "restore-pid-file",
            "restore-hooks")


def criu_path(ctx):
    name = getattr(ctx, "criu", None) or "criu"
    path = name if "/" in name else shutil.which(name, path=os.environ.get(
        "PATH", "") + ":/usr/sbin:/sbin:/usr/local/sbin")
    if not path or not os.access(path, os.X_OK):
        raise PyruncError("criu (%s) not found: checkpoint/restore needs CRIU" % name)
    return path


def _abs_dir(path, default, create=True):
    path = os.path.abspath(path or default)
    if create:
        try:
            os.makedirs(path, 0o700, exist_ok=True)
        except OSError as e:
            raise PyruncError("%s: %s" % (path, os.strerror(e.errno).lower())) from None
    return path


def _criu_error(log_path, rc, what):
    """One line: the last error CRIU logged (timestamps stripped)."""
    last = None
    try:
        with open(log_path, errors="replace") as f:
            for line in f:
                if ("Error (" in line or line.startswith("Error")) and not (
                        last and line.rstrip().endswith(" FAILED.")):
                    last = line     # the cause, not the final "Dumping FAILED."
    except OSError:
        pass
    if last:
        text = last.strip()
        if text.startswith("(") and ")" in text:
            text = text.split(")", 1)[1].strip()
        return "criu %s failed: %s (log: %s)" % (what, text, log_path)
    return "criu %s failed (exit status %d; log: %s)" % (what, rc, log_path)


# --- mounts -----------------------------------------------------------------

def _mountinfo(pid):
    rows = []
    with open("/proc/%d/mountinfo" % pid) as f:
        for line in f:
            a, _, b = line.partition(" - ")
            fs = a.split()
            rows.append({"id": int(fs[0]), "dev": fs[2], "root": procfs.unescape(fs[3]),
                         "mp": procfs.unescape(fs[4]), "fstype": b.split()[0] if b else ""})
    return rows


def _norm(p):
    return os.path.normpath("/" + p.lstrip("/"))


def _bind_mounts(config):
    """{destination: source} of config.json's bind mounts."""
    out = {}
    for m in config.mounts:
        opts = m.options or ()
        if m.type == "bind" or "bind" in opts or "rbind" in opts:
            out[_norm(m.destination)] = m.source or ""
    return out


def external_mounts(config, pid):
    """{key: fallback host path} of the mounts CRIU must not dump: the bind
    mounts of config.json and any mount of a part of a filesystem the
    container does not otherwise have (the host's /dev/null on masked paths,
    the host's device nodes bound in a user namespace)."""
    binds = _bind_mounts(config)
    lx = config.linux
    masked = {_norm(p) for p in (lx.masked_paths if lx else ())}
    rows = _mountinfo(pid)
    whole = {r["dev"] for r in rows if r["root"] == "/"}
    mps = {r["mp"] for r in rows}
    out = {}
    for dest in binds:
        if dest in mps:
            out[dest] = dest
    for r in rows[1:]:
        if r["mp"] == "/" or r["fstype"] in ("cgroup", "cgroup2"):
            continue
        if r["root"] != "/" and r["dev"] not in whole and r["mp"] not in out:
            out[r["mp"]] = "/dev/null" if r["mp"] in masked else r["mp"]
    return out


# --- checkpoint ----------------------------------------------------------------

def checkpoint(ctx, cid, opts):
    from pyrunc.lifecycle.common import cgroup_manager, stored_config
    criu = criu_path(ctx)
    store = Store(ctx.root)
    c = store.load(cid)
    pre_dump = bool(opts.get("pre_dump"))
    leave_running = bool(opts.get("leave_running")) or pre_dump
    mode = opts.get("manage_cgroups_mode")
    if mode and mode not in MANAGE_CGROUPS_MODES:
        raise PyruncError("invalid --manage-cgroups-mode %r (want one of %s)"
                          % (mode, ", ".join(MANAGE_CGROUPS_MODES)))
    parent = opts.get("parent_path")
    if parent:
        # criu takes it relative to the image directory (runc's rule)
        if os.path.isabs(parent):
            raise PyruncError("--parent-path %s: must be relative to --image-path" % parent)
        base = os.path.abspath(opts.get("image_path") or "checkpoint")
        if not os.path.isdir(os.path.join(base, parent)):
            raise PyruncError("invalid --parent-path %s: no such directory below %s"
                              % (parent, base))
    empty = []
    for ns in opts.get("empty_ns") or ():
        if ns not in EMPTY_NS:
            raise PyruncError("--empty-ns %s: only the network namespace can be left empty"
                              % ns)
        empty.append(EMPTY_NS[ns])
    lock = store.lock(cid)
    try:
        status = c.status()
        if status not in ("running", "paused"):
            raise PyruncError("container %s is not running (%s)" % (cid, status))
        config = stored_config(c)
        if config.process is not None and config.process.terminal and not opts.get("shell_job"):
            raise PyruncError("checkpoint of a container with a terminal is not supported")
        ext_ns = _external_namespaces(config, ("pid", "user", "mount", "ipc", "uts",
                                               "cgroup", "time"))
        image = _abs_dir(opts.get("image_path"), "checkpoint")
        work = _abs_dir(opts.get("work_path"), image)
        pid = c.pid
        stdio = _stdio(pid)
        externals = external_mounts(config, pid)
        argv = [criu, "pre-dump" if pre_dump else "dump", "-t", str(pid), "-D", image,
                "-W", work, "-o", "dump.log", "-v4"]
        argv.append("--manage-cgroups=%s" % mode if mode else "--manage-cgroups")
        mgr = cgroup_manager(c)
        if mgr is not None and status == "running":
            ff = mgr.freezer_file() if hasattr(mgr, "freezer_file") else None
            if ff:
                argv += ["--freeze-cgroup", os.path.dirname(ff)]
        for flag in ("tcp_established", "file_locks", "ext_unix_sk", "shell_job",
                     "auto_dedup", "lazy_pages"):
            if opts.get(flag):
                argv.append("--" + flag.replace("_", "-"))
        if leave_running and not pre_dump:
            argv.append("--leave-running")
        if pre_dump or opts.get("parent_path"):
            argv.append("--track-mem")
        if opts.get("parent_path"):
            argv += ["--prev-images-dir", opts["parent_path"]]
        if opts.get("page_server"):
            addr, _, port = opts["page_server"].rpartition(":")
            argv += ["--page-server", "--address", addr or opts["page_server"]]
            if port:
                argv += ["--port", port]
        if opts.get("status_fd") is not None:
            argv += ["--status-fd", str(opts["status_fd"])]
        for ns in empty:
            argv += ["--empty-ns", ns]
        for key in sorted({k for k in stdio if k.startswith("file[")}):
            argv += ["--external", key]
        for mp in sorted(externals):
            argv += ["--external", "mnt[%s]:%s" % (mp, mp)]
        net = ext_ns.get("network")
        if net is not None:
            argv += ["--external", "net[%d]:%s" % (os.stat(net).st_ino, NET_KEY)]
        if not pre_dump:
            _write_json(os.path.join(image, DESCRIPTORS), stdio)
            _write_json(os.path.join(image, EXTERNALS), externals)
        pass_fds = (opts["status_fd"],) if opts.get("status_fd") is not None else ()
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, pass_fds=pass_fds)
        if p.returncode != 0:
            raise PyruncError(_criu_error(os.path.join(work, "dump.log"), p.returncode,
                                          "pre-dump" if pre_dump else "dump"))
    finally:
        os.close(lock)
    if not leave_running:
        # CRIU killed the tree; what remains (cgroup, state) goes as with delete
        from pyrunc.lifecycle.delete import delete
        delete(ctx, cid, force=True, config=config)
    return 0


def _stdio(pid):
    """What fds 0-2 of the init are, for restore: "pipe:[N]" (restore
    gives its own fd instead, as runc does), "file[MNT:INO]" for a file the
    container cannot see (the caller's /dev/null or log file: external to
    CRIU, and replaced by restore's own fd), else the path."""
    ids = None
    out = []
    for fd in range(3):
        try:
            link = os.readlink("/proc/%d/fd/%d" % (pid, fd))
        except OSError:
            out.append("")
            continue
        if link.startswith("/"):
            try:
                mnt = None
                with open("/proc/%d/fdinfo/%d" % (pid, fd)) as f:
                    for line in f:
                        if line.startswith("mnt_id:"):
                            mnt = int(line.split()[1])
                ino = os.stat("/proc/%d/fd/%d" % (pid, fd)).st_ino
            except (OSError, ValueError):
                mnt = None
            if mnt is not None:
                if ids is None:
                    ids = {r["id"] for r in _mountinfo(pid)}
                if mnt not in ids:
                    link = "file[%x:%x]" % (mnt, ino)
        out.append(link)
    return out


def _external_namespaces(config, refused):
    """{type: path} of the namespaces the container joined by path; refuses
    the kinds CRIU cannot take as external."""
    out = {}
    lx = config.linux
    for ns in (lx.namespaces if lx else ()):
        if ns.path:
            if ns.type in refused:
                raise PyruncError("checkpoint/restore of a container that joins a %s "
                                  "namespace by path is not supported" % ns.type)
            out[ns.type] = ns.path
    return out


def _write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


def _read_json(path, default):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


# --- restore -------------------------------------------------------------------

def restore(ctx, cid, opts):
    from pyrunc.config import load_bundle
    from pyrunc.lifecycle import create as lcreate
    from pyrunc.state import validate_id
    criu = criu_path(ctx)
    validate_id(cid)
    store = Store(ctx.root)
    detach = bool(opts.get("detach"))
    bundle = os.path.abspath(opts.get("bundle") or ".")
    image = _abs_dir(opts.get("image_path"), "checkpoint", create=False)
    if not os.path.isfile(os.path.join(image, "inventory.img")):
        raise PyruncError("no checkpoint image in %s (inventory.img missing)" % image)
    work = _abs_dir(opts.get("work_path"), image)
    mode = opts.get("manage_cgroups_mode")
    if mode and mode not in MANAGE_CGROUPS_MODES:
        raise PyruncError("invalid --manage-cgroups-mode %r (want one of %s)"
                          % (mode, ", ".join(MANAGE_CGROUPS_MODES)))
    raw, config, rootfs = load_bundle(bundle)
    proc = config.process
    if proc is not None and proc.terminal:
        raise PyruncError("restore of a container with a terminal is not supported")
    if opts.get("console_socket"):
        raise PyruncError("cannot use console socket if pyrunc will not allocate tty")
    ext_ns = _external_namespaces(config, ("pid", "user", "mount", "ipc", "uts",
                                           "cgroup", "time"))
    from pyrunc.lifecycle.plan import build
    prep = build(config, rootfs)
    ns_types = sorted(prep.ns.types)
    prep.close()
    st = proc_stat(os.getpid())
    c = store.create(cid, {
        "ociVersion": OCI_VERSION, "id": cid, "status": "creating", "bundle": bundle,
        "rootfs": rootfs, "created": lcreate._now_rfc3339(), "owner": "",
        "annotations": dict(config.annotations) if config.annotations else {},
        "creator_pid": os.getpid(), "creator_start": st[1] if st else None,
    })
    mgr = None
    pid = 0
    root_dir = c.path("criu-root")
    try:
        with open(c.path("config.json"), "wb") as f:
            f.write(raw)
        mgr = lcreate._cgroup(ctx, cid, config, c)
        if mgr is not None:
            c.data["cgroup"] = mgr.to_dict()
            c.data["cgroup"]["freezer"] = lcreate._freezer_file(mgr)
            c.save()
        make_mountpoints(config, rootfs, bundle)
        os.mkdir(root_dir, 0o700)
        pidfile = c.path("criu.pid")
        argv = [criu, "restore", "-D", image, "-W", work, "-o", "restore.log", "-v4",
                "--root", root_dir, "--restore-detached", "--pidfile", pidfile]
        argv.append("--manage-cgroups=%s" % mode if mode else "--manage-cgroups")
        if mgr is not None and mode != "ignore":
            argv += _cgroup_root_args(mgr)
        for flag in ("tcp_established", "file_locks", "ext_unix_sk", "shell_job",
                     "auto_dedup", "lazy_pages"):
            if opts.get(flag):
                argv.append("--" + flag.replace("_", "-"))
        binds = _bind_mounts(config)
        for key, fallback in sorted(_read_json(os.path.join(image, EXTERNALS), {}).items()):
            src = binds.get(key)
            if src is not None:
                host = src if os.path.isabs(src) else os.path.join(bundle, src)
            else:
                host = fallback
            argv += ["--external", "mnt[%s]:%s" % (key, host)]
        seen = set()
        for i, what in enumerate(_read_json(os.path.join(image, DESCRIPTORS), [])[:3]):
            if isinstance(what, str) and what.startswith(("pipe:", "file[")) \
                    and what not in seen:
                seen.add(what)
                argv += ["--inherit-fd", "fd[%d]:%s" % (i, what)]
        net_fd = -1
        if "network" in ext_ns:
            net_fd = os.open(ext_ns["network"], os.O_RDONLY)
            argv += ["--inherit-fd", "fd[%d]:%s" % (net_fd, NET_KEY)]
        h = config.hooks
        env = dict(os.environ)
        if h.prestart or h.create_runtime:
            import shlex
            import sys
            # CRIU execs the script (no arguments, no shell)
            script = c.path("criu-action")
            fd = os.open(script, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o700)
            with os.fdopen(fd, "w") as f:
                f.write("#!/bin/sh\nexec %s -m pyrunc.lifecycle.criu_action "
                        "</dev/null >/dev/null 2>&1\n" % shlex.quote(sys.executable))
            argv += ["--action-script", script]
            env["PYRUNC_CRIU_STATE"] = c.dir
        if not detach:
            from pyrunc.linux import sys as S
            from pyrunc.linux.sys import real
            real().prctl(S.PR_SET_CHILD_SUBREAPER, 1)     # the tree is reparented to us
        try:
            rc = _run_restore(argv, env, mgr, rootfs, root_dir, net_fd)
        finally:
            if net_fd >= 0:
                os.close(net_fd)
        if rc != 0:
            err = _read_text(c.path("criu-action.err"))
            raise PyruncError(err or _criu_error(os.path.join(work, "restore.log"), rc,
                                                 "restore"))
        pid = int(_read_text(pidfile) or 0)
        st = proc_stat(pid) if pid else None
        if st is None:
            raise PyruncError("restored container exited unexpectedly")
        c.data.update(status="running", pid=pid, pid_start=st[1], namespaces=ns_types,
                      has_process=proc is not None, restored=True)
        c.data["hooks"] = [k for k in ("start_container", "poststart", "poststop")
                           if getattr(h, k)]
        c.data.pop("creator_pid", None)
        c.data.pop("creator_start", None)
        c.save()
        for name in ("criu.pid", "criu-action.err", "criu-action"):
            try:
                os.unlink(c.path(name))
            except FileNotFoundError:
                pass
        if opts.get("pid_file"):
            lcreate.write_pid_file(opts["pid_file"], pid)
        if h.poststart:
            from pyrunc.lifecycle import hooks
            hooks.run(h.poststart, "poststart", c.state_json("running"))
    except BaseException:
        if pid:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        lcreate._destroy(mgr, pid)
        _rmdir(root_dir)
        store.remove(cid)
        raise
    _rmdir(root_dir)
    if detach:
        return 0
    from pyrunc.lifecycle.common import forward_signals, wait_exit_status
    from pyrunc.lifecycle.delete import delete
    forward_signals(pid)
    status = wait_exit_status(pid)
    delete(ctx, cid, force=True, config=config)
    return status


def make_mountpoints(config, rootfs, bundle):
    """Create the destinations of config.json's mounts in the rootfs where
    they are missing (a file for a bind mount of a file, else a directory),
    as create does when it mounts: CRIU mounts on what the image's mount
    tree names and does not make the mountpoints. A restore into a fresh
    rootfs (podman's `restore --import --name`) lacks those create made in
    the checkpointed container's. Destinations below a filesystem the
    runtime made (/dev's tmpfs, /proc) are skipped: CRIU restores that
    filesystem with its contents. Paths resolve inside the rootfs
    (pyrunc.linux.paths: symlinks never lead out of it)."""
    import stat
    from pyrunc.linux import paths
    from pyrunc.linux.sys import real
    sysc = real()
    made_fs = []
    rootfd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for m in config.mounts:
            dest = _norm(m.destination)
            opts = m.options or ()
            bind = m.type == "bind" or "bind" in opts or "rbind" in opts
            if dest == "/" or any(dest.startswith(d + "/") for d in made_fs):
                continue
            if not bind:
                made_fs.append(dest)
            isdir = True
            if bind:
                src = m.source or ""
                src = src if os.path.isabs(src) else os.path.join(bundle, src)
                try:
                    isdir = stat.S_ISDIR(os.stat(src).st_mode)
                except OSError:
                    continue        # CRIU reports the missing external mount
            try:
                fd = (paths.mkdir_all(sysc, rootfd, dest) if isdir
                      else paths.create_file(sysc, rootfd, dest))
                os.close(fd)
            except OSError as e:
                raise PyruncError("restore: mountpoint %s: %s"
                                  % (dest, os.strerror(e.errno).lower())) from None
    finally:
        os.close(rootfd)


def _cgroup_root_args(mgr):
    paths = mgr.paths
    vals = set(paths.values())
    if len(vals) == 1:
        return ["--cgroup-root", vals.pop()]
    out = []
    for key, p in sorted(paths.items()):
        if key and key != "unified":
            out += ["--cgroup-root", "%s:%s" % (key, p)]
    return out


def _run_restore(argv, env, mgr, rootfs, root_dir, keep_fd):
    """Fork a child that joins the container's cgroup (the parent moves it),
    bind-mounts rootfs on root_dir in a private mount namespace and execs
    criu. Returns criu's exit status."""
    from pyrunc.linux import sys as S
    from pyrunc.linux.sys import real
    sysc = real()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(w)
            os.read(r, 1)
            os.close(r)
            sysc.unshare(S.CLONE_NEWNS)
            # a slave (not private) copy: CRIU copies the sharing of an
            # external mount's source (MOVE_MOUNT_SET_GROUP), which needs the
            # source still in its peer group (a shared / under systemd)
            sysc.mount(None, "/", None, S.MS_REC | S.MS_SLAVE)
            sysc.mount(rootfs, root_dir, None, S.MS_BIND | S.MS_REC)
            if keep_fd >= 0:
                os.set_inheritable(keep_fd, True)
            os.execve(argv[0], argv, env)
        except BaseException as e:
            try:
                os.write(2, ("pyrunc: restore: %s\n" % e).encode())
            except OSError:
                pass
        os._exit(127)
    os.close(r)
    try:
        if mgr is not None:
            mgr.add_pid(pid)
        os.write(w, b"g")
    except BaseException:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise
    finally:
        os.close(w)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    return os.waitstatus_to_exitcode(status)


def _read_text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _rmdir(path):
    try:
        os.rmdir(path)
    except OSError:
        pass


def supported():
    """For `features`: CRIU's presence (not a `criu check`: that is slow)."""
    for d in ("/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin", "/bin"):
        if os.access(os.path.join(d, "criu"), os.X_OK):
            return True
    return shutil.which("criu") is not None


__all__ = ["checkpoint", "restore", "supported", "FEATURES", "log"]
