"""create: set up everything, leave the init waiting, return.

Process tree (the shortest the namespaces allow):

  pyrunc create (P) ──fork──> C1: joins/creates namespaces (user first,
                                   uid/gid maps written by P), then forks
                                   C2 and exits
                              C2: pid 1 of the new pid namespace: mounts,
                                   pivot_root, devices, hooks, console,
                                   process attributes, then execs the sealed
                                   init helper, which waits for `start`

Without a user or time namespace, and with P the host's root (the usual
rootful create: podman, containerd, docker), there is no C1: P unshares
CLONE_NEWPID, which changes only where its next child goes, forks C2
straight into the new pid namespace, and setns()es its own children's pid
namespace back; C2 joins and makes the other namespaces itself
(init.direct, fork_init, child_direct). One fork of a Python process less
(about 1.5 ms of every create).

With a pid namespace joined by path (a pod), C1 does not join it and C2
stays outside it (other processes live there, and a privileged one could
reach C2's python through /proc/<pid>/exe): C2 joins it just before it
execs the helper with F_FORK, and the helper's child -- a sealed memfd --
is the container's init. Its /proc is mounted from a procfs context the
helper opened inside that namespace (--proc-context, see csrc/init.c).

P and the children talk over a SOCK_SEQPACKET pair; every message is one
packet: G (go), U/M (user namespace made / maps
written), P <pid> (C2's pid, from C1), H/h (ready for the runtime-namespace
hooks / hooks done), C (C2 is in its cgroup), X (about to exec the helper),
F <pid> / N[payload] (joined pid namespace: the helper forked the init / P's
go-ahead with the seccomp-notify payload), E <text> (failed).
A failed create kills the init and removes the cgroup and the state dir.
"""
import errno
import os
import time

# _socket, not socket: socket.py imports enum (milliseconds per call)
import _socket

from pyrunc import OCI_VERSION, log
from pyrunc.errors import PyruncError
from pyrunc.faults import fault_point
from pyrunc.lifecycle.common import recv_from_child, send_to_child
from pyrunc.state import Store, proc_stat

SIGKILL = 9


def _now_rfc3339():
    t = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 10**9)) + ".%09dZ" % (t % 10**9)


def write_pid_file(path, pid):
    """Atomically, without a trailing newline (runc's format)."""
    path = os.path.abspath(path)
    tmp = os.path.join(os.path.dirname(path), ".%s.tmp" % os.path.basename(path))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, str(pid).encode())
    finally:
        os.close(fd)
    os.rename(tmp, path)


def create(ctx, cid, bundle, pid_file=None, console_socket=None, no_pivot=False,
           preserve_fds=0, subreaper=False, pidfd_socket=None):
    """Returns the Container (status created)."""
    store = Store(ctx.root)
    from pyrunc.state import validate_id
    validate_id(cid)
    from pyrunc.linux.sys import check_kernel
    check_kernel()
    warm = None
    if os.geteuid() == 0:
        from pyrunc.linux.cgroups import take_warmup
        warm = take_warmup()    # stopped before the fork, also on every error
    try:
        return _create(ctx, store, cid, bundle, pid_file, console_socket, no_pivot,
                       preserve_fds, subreaper, warm, pidfd_socket)
    finally:
        if warm is not None:
            warm.stop()


def _create(ctx, store, cid, bundle, pid_file, console_socket, no_pivot, preserve_fds,
            subreaper, warm, pidfd_socket=None):
    from pyrunc.config import load_bundle
    raw, config, rootfs = load_bundle(bundle)
    bundle = os.path.abspath(bundle)
    proc = config.process
    if proc is not None and proc.terminal and not console_socket and not subreaper:
        raise PyruncError("cannot allocate tty if pyrunc will detach without setting "
                          "console socket")
    if console_socket and (proc is None or not proc.terminal):
        raise PyruncError("cannot use console socket if pyrunc will not detach or allocate tty")
    extra = _listen_fds()
    # everything decided first (pyrunc/lifecycle/plan.py), then carried out
    from pyrunc.lifecycle.plan import build
    prep = build(config, rootfs)
    st = proc_stat(os.getpid())
    data = {
        "ociVersion": OCI_VERSION, "id": cid, "status": "creating", "bundle": bundle,
        "rootfs": rootfs, "created": _now_rfc3339(), "owner": "",
        "annotations": dict(config.annotations) if config.annotations else {},
        "creator_pid": os.getpid(), "creator_start": st[1] if st else None,
    }
    mgr = None
    try:
        if "mount" not in prep.ns.types:
            from pyrunc.linux.rootfs import mounts_under
            data["host_mounts_before"] = mounts_under(rootfs)
        # in the state from its first write: killed from here on, `delete
        # --force` still finds (and removes) whatever of its dirs exists.
        # Made and applied by P after the fork, while the children set up
        # (see _drive).
        mgr = _cgroup_new(ctx, cid, config)
        data["cgroup"] = intent = _cgroup_intent(mgr)
        c = store.create(cid, data)
    except BaseException:
        prep.close()
        raise
    init_pid = 0
    try:
        fault_point("create-claimed")
        fault_point("cgroup-recorded")
        with open(c.path("config.json"), "wb") as f:   # later edits don't affect us
            f.write(raw)
        os.mkfifo(c.path("exec.fifo"), 0o600)
        os.mkfifo(c.path("done.fifo"), 0o600)
        prep.fifo = prep.keep(os.open(c.path("exec.fifo"), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
        prep.done = prep.keep(os.open(c.path("done.fifo"), os.O_RDWR | os.O_CLOEXEC))
        from pyrunc.linux import process as lproc
        from pyrunc.linux.sys import CLOSE_RANGE_CLOEXEC, real
        sysc = real()
        # stray fds of the caller (buildah passes 3-17) must not reach hooks
        # or the container; only the preserved ones stay inheritable
        sysc.close_range(3 + preserve_fds + extra, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC)
        prep.helper = prep.keep(lproc.helper_memfd(sysc))
        from pyrunc.linux import idmap
        new_userns = "user" in prep.ns.types and prep.ns.new_user
        if new_userns or any(idmap.wanted(m) for m in config.mounts):
            idmap.prepare(sysc, config, prep.keep, new_userns)
        if prep.ns.join:
            # the helper is exec'd after setns: see init.exec_helper
            prep.proc_dir = prep.keep(lproc.proc_dir(sysc))
        from pyrunc.linux.namespaces import pid_fd
        if pid_fd(prep.ns) >= 0:
            # see pyrunc/linux/procfs.py
            from pyrunc.linux import procfs
            prep.joined_procfs = True
            procfs.preopened = procfs.Procfs.open(sysc)
            prep.keep(procfs.preopened.fd)
            n = sum(1 for m in config.mounts if m.type == "proc")
            if n:
                procfs.contexts = [prep.keep(fd) for fd in lproc.proc_contexts(
                    prep.helper, pid_fd(prep.ns), n)]
        own_pty = proc is not None and proc.terminal and not console_socket
        prep.own_pty = own_pty
        if own_pty:
            # `run` in the foreground with a terminal: pyrunc itself is the
            # console socket's other end (run.py proxies the pty)
            ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
            c.pty = ours
            prep.console = prep.keep(theirs.detach())
        else:
            prep.console = prep.keep(_console(console_socket)) if console_socket else -1
        prep.preserve = preserve_fds + extra
        pidfd_sock = -1
        if pidfd_socket:
            from pyrunc.linux.sys import connect_unix
            pidfd_sock = prep.keep(connect_unix(pidfd_socket, "pidfd socket"))
        if subreaper:
            sysc.prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: the init is reparented to us
        from pyrunc.lifecycle import init
        init.preload(config)
        if mgr is not None and not ctx.rootless:
            # for _cgroup_make after the fork, imported now: then every
            # page P touches costs a copy (the children share them)
            from pyrunc.linux.cgroups import devices  # noqa: F401
        ps, cs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        if warm is not None:
            warm.stop()     # the child gets no thread; the init's migration is soon
        # --debug lines in runc's words, for what its users grep
        log.debug("nsexec container setup: forking the namespace child")
        direct = init.direct(prep)      # the init as our own child, no C1
        child = init.fork_init(sysc, prep) if direct else os.fork()
        if child == 0:
            ps.close()
            (init.child_direct if direct else init.child1)(
                sysc, cs, c, config, rootfs, prep, no_pivot)    # never returns
        cs.close()
        fault_point("create-forked")
        init_pid, mgr = _drive(ps, 0 if direct else child, c, config, mgr, ctx,
                               init=child if direct else 0)
        ps.close()
        fault_point("create-init-ready")
        st = proc_stat(init_pid)
        c.data.update(status="created", pid=init_pid, pid_start=st[1] if st else None)
        c.data["namespaces"] = sorted(prep.ns.types)
        # what start and delete need to know without parsing config.json again
        c.data["has_process"] = config.process is not None
        c.data["hooks"] = [k for k in ("start_container", "poststart", "poststop")
                           if getattr(config.hooks, k)]
        c.data.pop("creator_pid", None)
        c.data.pop("creator_start", None)
        c.save()
        fault_point("create-saved")
        if pid_file:
            write_pid_file(pid_file, init_pid)
        if pidfd_sock >= 0:
            lproc.send_pidfd(pidfd_sock, init_pid)
        c.config = config
        return c
    except BaseException:
        if init_pid:
            try:
                os.kill(init_pid, SIGKILL)
            except OSError:
                pass
        # None: no cgroup made (the state holds the intent only: the dir
        # may be another's), or _cgroup_make cleaned up after itself
        cg = c.data.get("cgroup")
        made = cg is not None and cg is not intent
        _destroy(mgr if made else None, init_pid)
        store.remove(cid)
        raise
    finally:
        prep.close()
        if getattr(prep, "joined_procfs", False):
            # the joined pid namespace's procfs handle and contexts were
            # among prep's fds: nothing in this process may use them again
            from pyrunc.linux import procfs
            procfs.preopened = None
            procfs.contexts = []


def _drive(ps, c1, c, config, mgr, ctx, init=0):
    """P's side of the protocol; returns (the init's host pid, the cgroup
    manager or None). c1: C1's pid, or 0 when P forked the init itself
    (init: its pid)."""
    from pyrunc.linux import namespaces
    init_pid = 0
    seen_exec = False
    cg_err = None
    done = False

    def forked(pid):
        """The init exists (C1's "P", or P's own fork): into its cgroup,
        then "C" with its host pid."""
        nonlocal init_pid
        init_pid = pid
        log.debug("child process in init(): pid %d" % init_pid)
        if cg_err is not None:
            # not in a cgroup yet: kill_all would not find it
            try:
                os.kill(init_pid, SIGKILL)
            except OSError:
                pass
            raise cg_err
        # The init joins its cgroup while it sets up its mounts: on
        # cgroup v1 the first migration after a quiet spell waits an
        # RCU grace period (~10 ms here), so we overlap it. The init
        # waits for "C" before it unshares its cgroup namespace or
        # mounts a cgroup filesystem.
        fault_point("create-init-forked")
        if mgr is not None:
            try:
                mgr.add_pid(init_pid)
            except PyruncError as e:
                # an init that failed early is gone (ESRCH): its own
                # error, queued on the socket, says why
                raise PyruncError(_queued_error(ps) or str(e)) from None
        fault_point("create-init-in-cgroup")
        send_to_child(ps, b"C %d" % init_pid)     # the init learns its host pid

    try:
        send_to_child(ps, b"G")
        if mgr is not None:
            # the cgroup's mkdirs and limits (several ms on v1, one dir per
            # hierarchy) overlap C1's unshare and C2's first mounts; the
            # init joins it at "P", and C2 waits for "C" before anything
            # that depends on it
            try:
                mgr = _cgroup_make(ctx, config, c, mgr)
            except BaseException as e:
                cg_err = e
        if init:
            forked(init)
        while True:
            msg = recv_from_child(ps)
            if not msg:
                break
            kind, _, rest = msg.partition(b" ")
            if kind == b"U":
                namespaces.write_id_maps(c1, config)
                send_to_child(ps, b"M")
            elif kind == b"P":
                os.waitpid(c1, 0)
                c1 = 0
                forked(int(rest))
            elif kind == b"H":
                fault_point("create-mounted")
                _runtime_hooks(c, config, init_pid)
                send_to_child(ps, b"h")
            elif kind == b"X":
                seen_exec = True
                log.debug("init: closing the pipe to signal completion")
            elif kind == b"F":
                # joined pid namespace: the init helper forked the container's
                # process into it; that child is the container's init
                init_pid = int(rest)
                if config.process is not None and config.process.scheduler is not None:
                    from pyrunc.linux.process import apply_scheduler
                    from pyrunc.linux.sys import real
                    apply_scheduler(real(), init_pid, config.process.scheduler)
                payload = b""
                lx = config.linux
                if lx is not None and lx.seccomp is not None and lx.seccomp.listener_path:
                    from pyrunc.lifecycle.init import notify_payload
                    payload = notify_payload(lx.seccomp, init_pid, c.state_json("created"))
                send_to_child(ps, b"N" + payload)
            elif kind == b"E":
                raise cg_err or PyruncError(rest.decode(errors="replace"))
        if cg_err is not None:
            raise cg_err
        done = True
    finally:
        # C1, or P's own init when the create failed
        for pid in (c1, 0 if done else init):
            if pid:
                try:
                    os.kill(pid, SIGKILL)
                except OSError:
                    pass
                os.waitpid(pid, 0)
    if not seen_exec or not init_pid:
        raise PyruncError("container init exited unexpectedly")
    st = proc_stat(init_pid)
    if st is None or st[0] in ("Z", "X"):
        raise PyruncError("container init exited unexpectedly")
    return init_pid, mgr


def _queued_error(ps):
    """The "E <text>" a child sent before it exited, if any (waits briefly)."""
    ps.settimeout(1.0)
    try:
        while True:
            msg = recv_from_child(ps)
            if not msg:
                return None
            if msg.startswith(b"E "):
                return msg[2:].decode(errors="replace")
    except OSError:         # the timeout included: the child is still alive
        return None
    finally:
        ps.settimeout(None)


def _runtime_hooks(c, config, init_pid):
    """prestart (deprecated) and createRuntime, in the runtime namespace."""
    h = config.hooks
    if not (h.prestart or h.create_runtime):
        return
    from pyrunc.lifecycle import hooks
    st = c.state_json("created")
    st["pid"] = init_pid
    # prestart sees "created" (as crun; runtime-tools hooks_stdin expects it)
    hooks.run(h.prestart, "prestart", st, cwd=c.data["bundle"])
    st["status"] = "creating"
    hooks.run(h.create_runtime, "create_runtime", st, cwd=c.data["bundle"])


def _cgroup(ctx, cid, config, c):
    """The cgroup recorded, made and applied in one go (restore)."""
    mgr = _cgroup_record(ctx, cid, config, c)
    return _cgroup_make(ctx, config, c, mgr)


def _cgroup_record(ctx, cid, config, c):
    """The manager, with the intent in the state first: killed from here
    on, `delete --force` still finds (and removes) whatever of its dirs
    exists."""
    mgr = _cgroup_new(ctx, cid, config)
    c.data["cgroup"] = _cgroup_intent(mgr)
    c.save()
    fault_point("cgroup-recorded")
    return mgr


def _cgroup_new(ctx, cid, config):
    from pyrunc.linux import cgroups
    lx = config.linux
    return cgroups.new_manager(lx.cgroups_path if lx else None, cid,
                               systemd=bool(ctx.systemd_cgroup))


def _cgroup_intent(mgr):
    """What the state records before any dir is made: the paths, and which
    of them are ours to remove (those missing now)."""
    return dict(mgr.to_dict(), created=mgr.missing_dirs())


def _cgroup_make(ctx, config, c, mgr):
    """mkdir and apply; returns the manager, or None where a rootless
    container runs without a cgroup."""
    from pyrunc.lifecycle.plan import limits
    lx = config.linux
    try:
        mgr.create()
        fault_point("cgroup-made")
        # even without resources: deny-all devices plus the runtime defaults
        mgr.apply(lx.resources if lx else None, devices=not ctx.rootless)
    except BaseException as e:
        mgr.destroy()
        # cleaned up here: create's error path must not kill_all or destroy
        # it again (a cgroup found in use is another container's)
        c.data["cgroup"] = None
        if ctx.rootless and getattr(e, "errno", None) in (errno.EACCES, errno.EPERM,
                                                          errno.EROFS) \
                and not (lx and (lx.cgroups_path or limits(lx.resources))):
            # runc's rootless rule: no cgroup we may make and none asked
            # for (no cgroupsPath, no limits): run without one
            c.data["cgroup"] = None
            c.save()
            return None
        raise
    # saved by the caller (create: with the init's pid, ~1 ms sooner for
    # the init); until then the state holds the intent _cgroup_record
    # saved, which is all `delete --force` needs
    c.data["cgroup"] = mgr.to_dict()
    c.data["cgroup"]["freezer"] = _freezer_file(mgr)
    fault_point("cgroup-applied")
    return mgr


def _freezer_file(mgr):
    try:
        return mgr.freezer_file()
    except AttributeError:
        return None


def _destroy(mgr, init_pid):
    if mgr is None:
        return
    try:
        mgr.kill_all(SIGKILL)
    except Exception:
        pass
    try:
        mgr.destroy()
    except Exception as e:
        log.warn("cgroup cleanup: %s" % e)


def _console(path):
    from pyrunc.linux import console
    return console.connect(path)


def _listen_fds():
    """Socket activation: LISTEN_FDS in pyrunc's own env adds preserved fds."""
    v = os.environ.get("LISTEN_FDS")
    if v and v.isdigit() and os.environ.get("LISTEN_PID", str(os.getpid())) == str(os.getpid()):
        return int(v)
    return 0
