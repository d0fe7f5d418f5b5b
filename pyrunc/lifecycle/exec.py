"""exec: run a new process in a running container.

P (pyrunc exec) opens the init's namespaces, forks C1, puts it in the
container's cgroup; C1 joins every namespace (user first, mount last;
non-dumpable). setns(pid) only moves C1's future children, so C1 itself
stays outside the container's pid namespace: no process of the container,
however privileged (CAP_SYS_PTRACE reads /proc/<pid>/exe of non-dumpable
processes), can see it. C1 applies the process attributes and execs the
sealed init helper with F_FORK: the helper forks, and that child -- the
sealed memfd, never the host's python (CVE-2019-5736) -- is the first and
only process of this exec to enter the pid namespace. The helper's parent
sends "F <pid>" and exits; P answers "N" (+ the seccomp-notify payload,
which names that pid) and the child goes on to exec the process.
Detached, P writes the pid file and returns: nothing of pyrunc stays as
the process's parent. In the foreground P is a child subreaper, forwards
signals and exits with the process's status.
"""
import os

import _socket

from pyrunc import log
from pyrunc.errors import ExecStoppedError, PyruncError
from pyrunc.faults import fault_point
from pyrunc.lifecycle.common import Fds, recv_from_child, send_to_child
from pyrunc.state import Store


class Prep(Fds):
    def __init__(self):
        Fds.__init__(self)
        self.console = -1
        self.preserve = 0
        self.rlimits = []
        self.caps = None
        self.seccomp = None
        self.apparmor = self.selinux = None
        self.listener = -1
        self.proc_dir = -1
        self.own_pty = False


def build_process(c, opts):
    """The exec process: --process file, or the container's process with
    the command line's args and flags applied (as runc does)."""
    from pyrunc.config import load_process
    from pyrunc.config.model import Capabilities, Process, User
    from pyrunc.lifecycle.common import stored_config
    if opts.get("process"):
        return load_process(opts["process"])
    base = stored_config(c).process
    args = tuple(opts["args"])
    if not args:
        raise PyruncError("exec: no command given (args or --process required)")
    kw = {n: getattr(base, n) for n in Process.__slots__} if base else {
        n: None for n in Process.__slots__}
    kw["args"] = args
    kw["terminal"] = bool(opts.get("tty"))
    kw["console_size"] = None
    env = list(base.env if base else ())
    for e in opts.get("env") or ():
        k = e.split("=", 1)[0]
        env = [x for x in env if x.split("=", 1)[0] != k] + [e]
    kw["env"] = tuple(env)
    kw["cwd"] = opts.get("cwd") or (base.cwd if base else "/")
    user = base.user if base else User(uid=0, gid=0, additional_gids=())
    if opts.get("user"):
        u, _, g = opts["user"].partition(":")
        try:
            user = User(uid=int(u), gid=int(g) if g else 0, umask=user.umask,
                        additional_gids=())
        except ValueError:
            raise PyruncError("exec: --user takes uid[:gid] numbers: %r" % opts["user"]) from None
    if opts.get("additional_gids"):
        user = User(uid=user.uid, gid=user.gid, umask=user.umask,
                    additional_gids=tuple(int(g) for g in opts["additional_gids"]))
    kw["user"] = user
    if opts.get("cap"):
        caps = kw["capabilities"] or Capabilities()
        add = tuple(opts["cap"])
        # never inheritable (CVE-2022-29162); ambient only where the config
        # has an inheritable set, and raised only for what is in it (runc)
        kw["capabilities"] = Capabilities(
            bounding=(caps.bounding or ()) + add, effective=(caps.effective or ()) + add,
            permitted=(caps.permitted or ()) + add, inheritable=caps.inheritable or (),
            ambient=(caps.ambient or ()) + (add if caps.inheritable else ()))
    if opts.get("no_new_privs"):
        kw["no_new_privileges"] = True
    if opts.get("apparmor"):
        kw["apparmor_profile"] = opts["apparmor"]
    if opts.get("process_label"):
        kw["selinux_label"] = opts["process_label"]
    return Process(**kw)


def exec_(ctx, cid, opts):
    store = Store(ctx.root)
    c = store.load(cid)
    status = c.status()
    if status == "stopped":
        raise ExecStoppedError("exec failed: cannot exec in a stopped container")
    if status == "paused" and not opts.get("ignore_paused"):
        # the new process would join a frozen cgroup and hang in set-up
        raise PyruncError("exec failed: cannot exec in a paused container "
                          "(use --ignore-paused to override)")
    warm = None
    from pyrunc.linux import cgroups
    if os.geteuid() == 0 and c.data.get("cgroup"):
        warm = cgroups.take_warmup()    # see Warmup: the child's migration is then fast
    else:
        cgroups.stop_warmup()
    try:
        return _exec(c, opts, warm)
    finally:
        if warm is not None:
            warm.stop()


def _exec(c, opts, warm):
    from pyrunc.linux import capabilities, namespaces, rlimits
    from pyrunc.linux import process as lproc
    from pyrunc.linux.sys import real, PR_SET_CHILD_SUBREAPER, CLOSE_RANGE_CLOEXEC

    proc = build_process(c, opts)
    from pyrunc.lifecycle.common import cgroup_manager
    mgr = cgroup_manager(c)
    cg_dirs = None
    if mgr is not None:
        from pyrunc.linux.cgroups import parse_sub_cgroups
        cg_dirs = mgr.exec_dirs(parse_sub_cgroups(opts.get("cgroup")))
    elif opts.get("cgroup"):
        raise PyruncError("--cgroup: the container has no cgroup")
    detach = opts.get("detach")
    if proc.terminal and not opts.get("console_socket") and detach:
        raise PyruncError("cannot allocate tty if pyrunc will detach without setting "
                          "console socket")
    sysc = real()
    prep = Prep()
    prep.preserve = opts.get("preserve_fds") or 0
    sysc.close_range(3 + prep.preserve, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC)
    prep.rlimits = rlimits.check(proc.rlimits)
    # in the container's own user namespace we become its root, holding all
    # of its capabilities whatever we hold outside (rootless)
    own_userns = "user" in c.data.get("namespaces", [])
    prep.caps = capabilities.masks(proc.capabilities, log.warn, all_granted=own_userns) \
        if proc.capabilities else None
    from pyrunc.linux import lsm
    prep.apparmor, prep.selinux, _ = lsm.check(proc, None, log.warn)
    from pyrunc.lifecycle.common import stored_config
    # fail closed: without the stored config we would not know its seccomp
    config_lx = stored_config(c).linux
    if config_lx is not None and config_lx.seccomp is not None:
        from pyrunc.linux import seccomp
        prep.seccomp = seccomp.compile(config_lx.seccomp, cache=True)
        log.debug("seccomp filter flags: %d" % prep.seccomp[1])
        if prep.seccomp[1] & seccomp.FLAG_NEW_LISTENER:
            prep.listener = seccomp.connect_listener(config_lx.seccomp.listener_path)
            prep.fds.append(prep.listener)
    types = c.data.get("namespaces", [])
    ns_fds = namespaces.container_ns_fds(c.pid, types)
    prep.fds += [fd for _t, fd in ns_fds]
    try:
        prep.helper = lproc.helper_memfd(sysc)
        prep.fds.append(prep.helper)
        prep.proc_dir = lproc.proc_dir(sysc)
        prep.fds.append(prep.proc_dir)
        pty_sock = None
        if proc.terminal and opts.get("console_socket"):
            from pyrunc.linux import console
            prep.console = console.connect(opts["console_socket"])
            prep.fds.append(prep.console)
        elif proc.terminal:
            # in the foreground: we take the pty master ourselves (lifecycle/tty.py)
            pty_sock, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
            prep.console = theirs.detach()
            prep.fds.append(prep.console)
            prep.own_pty = True
        if not detach:
            sysc.prctl(PR_SET_CHILD_SUBREAPER, 1)
        pidfd_sock = -1
        if opts.get("pidfd_socket"):
            from pyrunc.linux.sys import connect_unix
            pidfd_sock = connect_unix(opts["pidfd_socket"], "pidfd socket")
            prep.fds.append(pidfd_sock)
        rep_r, rep_w = os.pipe()
        prep.fds += [rep_r, rep_w]
        from pyrunc.lifecycle import init
        init.preload_exec(proc)
        ps, cs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        if warm is not None:
            warm.stop()
        log.debug("nsexec container setup: forking the namespace child")
        aff = proc.exec_cpu_affinity
        if aff is not None and aff.initial:
            from pyrunc.linux.process import parse_cpu_list
            log.debug("nsexec: affinity: 0x%x" % sum(1 << c for c in parse_cpu_list(aff.initial)))
        c1 = os.fork()
        if c1 == 0:
            ps.close()
            _child1(sysc, cs, ns_fds, proc, prep, rep_w, config_lx)
        cs.close()
        fault_point("exec-forked")
        os.close(rep_w)
        prep.fds.remove(rep_w)
        payload = None
        if prep.listener >= 0:
            state = c.state_json()
            payload = lambda pid: init.notify_payload(config_lx.seccomp, pid, state)  # noqa: E731
        pid = _drive(ps, c1, c, mgr, cg_dirs, payload, sysc, proc.scheduler)
        ps.close()
        err = b""
        while True:
            b = os.read(rep_r, 4096)
            if not b:
                break
            err += b
        if err:
            raise PyruncError("exec failed: %s" % err.decode(errors="replace"))
        aff = proc.exec_cpu_affinity
        if aff is not None and aff.final:
            # execCPUAffinity.final: once the process runs (runtime-spec)
            from pyrunc.linux.process import parse_cpu_list
            try:
                os.sched_setaffinity(pid, parse_cpu_list(aff.final))
            except OSError as e:
                raise PyruncError("execCPUAffinity: %s" % os.strerror(e.errno).lower())
        if pidfd_sock >= 0:
            try:
                lproc.send_pidfd(pidfd_sock, pid)
            except PyruncError:
                os.kill(pid, 9)     # nobody could signal it as asked
                raise
        fault_point("exec-started")
        if opts.get("pid_file"):
            from pyrunc.lifecycle.create import write_pid_file
            try:
                write_pid_file(opts["pid_file"], pid)
            except OSError as e:
                # runc: the process is killed and exec fails (255)
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
                raise PyruncError("pid file %s: %s" % (opts["pid_file"],
                                                       os.strerror(e.errno).lower())) from None
    finally:
        prep.close()
    if detach:
        return 0
    from pyrunc.lifecycle.common import forward_signals, wait_exit_status
    forward_signals(pid)
    if pty_sock is not None:
        from pyrunc.lifecycle.tty import proxy, receive_master
        proxy(receive_master(pty_sock), pid)
    return wait_exit_status(pid)


def _drive(ps, c1, c, mgr, cg_dirs, payload=None, sysc=None, sched=None):
    pid = 0
    ok = False
    try:
        if mgr is not None:
            mgr.add_exec_pid(c1, cg_dirs, c.pid)
        fault_point("exec-in-cgroup")
        send_to_child(ps, b"G")
        while True:
            msg = recv_from_child(ps)
            if not msg:
                break
            kind, _, rest = msg.partition(b" ")
            if kind == b"F":
                # the helper forked the process into the pid namespace
                pid = int(rest)
                log.debug("child process in init(): pid %d" % pid)
                os.waitpid(c1, 0)
                c1 = 0
                if sched is not None:
                    from pyrunc.linux.process import apply_scheduler
                    try:
                        apply_scheduler(sysc, pid, sched)
                    except PyruncError:
                        os.kill(pid, 9)     # it waits for "N": it never ran
                        raise
                send_to_child(ps, b"N" + (payload(pid) if payload else b""))
            elif kind == b"X":
                ok = True
                log.debug("setns_init: about to exec")
            elif kind == b"E":
                raise PyruncError("exec failed: %s" % rest.decode(errors="replace"))
    finally:
        if c1:
            try:
                os.kill(c1, 9)
            except OSError:
                pass
            os.waitpid(c1, 0)
    if not ok or not pid:
        raise PyruncError("exec failed: the process exited during set-up")
    return pid


def _close_stray_fds(prep, sock, rep_w):
    """Inside the container's namespaces nothing of the caller's may stay
    open, even close-on-exec (a second barrier behind the cwd check,
    CVE-2024-21626)."""
    keep = {sock.fileno(), prep.helper, rep_w, prep.listener, prep.console, prep.proc_dir}
    keep |= set(range(3, 3 + prep.preserve))
    lo = 3
    for fd in sorted(k for k in keep if k >= 3):
        if fd > lo:
            os.closerange(lo, fd)
        lo = fd + 1
    os.closerange(lo, 1 << 20)


def _child1(sysc, sock, ns_fds, proc, prep, rep_w, lx):
    """Never returns: execs the helper (which forks the process into the
    pid namespace) or sends "E <text>" and exits."""
    from pyrunc.lifecycle import init
    from pyrunc.linux import namespaces
    from pyrunc.linux.sys import PR_SET_DUMPABLE, PR_SET_PDEATHSIG
    try:
        sysc.prctl(PR_SET_DUMPABLE, 0)
        sysc.prctl(PR_SET_PDEATHSIG, 9)
        init._expect(sock, b"G")
        from pyrunc.linux.procfs import Procfs
        for t, fd in ns_fds:
            try:
                sysc.setns(fd, namespaces.FLAGS[t])
            except OSError as e:
                raise PyruncError("join %s namespace: %s" % (t, os.strerror(e.errno).lower()))
            os.close(fd)
            if t == "user":
                namespaces.become_root()
        _close_stray_fds(prep, sock, rep_w)
        aff = proc.exec_cpu_affinity
        if aff is not None and aff.initial:
            from pyrunc.linux.process import parse_cpu_list
            os.sched_setaffinity(0, parse_cpu_list(aff.initial))
        else:
            from pyrunc.linux.process import reset_cpu_affinity
            reset_cpu_affinity()
        if lx is not None and lx.memory_policy is not None:
            # the container's policy, as for its init (runc)
            from pyrunc.linux.process import apply_memory_policy
            apply_memory_policy(sysc, lx.memory_policy)
        need = proc.oom_score_adj is not None or prep.apparmor or prep.selinux
        procfs = Procfs.open(sysc) if need else None
        # exec never touches the container's /dev/console (runc's rule)
        plan = init.process_plan(sysc, proc, prep, lx.personality if lx else None,
                                 procfs, make_console=False, fork=True)
        if procfs:
            procfs.close()
        init.exec_helper(sysc, sock, plan, prep, rep_w)
    except BaseException as e:
        init._fail(sock, e)
    os._exit(1)
