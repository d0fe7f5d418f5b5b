"""The container's side of create: C1 (namespaces) and C2 (the init).

Both run in forked copies of pyrunc and never return: they exec the
sealed init helper or _exit. Every failure is sent to P as "E <text>".
Both are non-dumpable from the first instruction (CVE-2016-9962): no
process of the container can ptrace them or open their /proc files.
"""
import fcntl
import os

from pyrunc.linux import sys as S


def preload(config):
    """Import, in pyrunc before it forks, every module the children use:
    after pivot_root (or as a mapped user that cannot read the host's
    Python) the host's modules are out of their reach."""
    import fcntl  # noqa: F401
    import struct  # noqa: F401
    from pyrunc import fastjson  # noqa: F401
    from pyrunc.linux import devices, mounts, namespaces, paths, procfs, rlimits, rootfs, sysctl  # noqa: F401
    from pyrunc.linux import lsm, process
    process.possible_cpus()
    proc = config.process
    if proc is not None and proc.terminal:
        from pyrunc.linux import console  # noqa: F401
    if any(m.type == "cgroup" for m in config.mounts):
        from pyrunc.linux import cgroupfs
        cgroupfs.remember_runtime_ns()
    if config.hooks.create_container:
        import subprocess  # noqa: F401
        from pyrunc.lifecycle import hooks  # noqa: F401


def preload_exec(proc):
    import fcntl  # noqa: F401
    from pyrunc import fastjson  # noqa: F401
    import struct  # noqa: F401
    from pyrunc.linux import lsm, process, procfs, rlimits  # noqa: F401
    process.possible_cpus()
    if proc.terminal:
        from pyrunc.linux import console  # noqa: F401


def _fail(sock, e):
    from pyrunc.errors import PyruncError
    if isinstance(e, PyruncError):
        text = str(e)
    elif isinstance(e, OSError):
        text = os.strerror(e.errno).lower() if e.errno else str(e)
        if e.filename:
            text = "%s: %s" % (e.filename, text)
        if e.strerror and ":" in e.strerror:
            text = "%s: %s" % (e.strerror.split(":")[0], text)
    else:
        text = "%s: %s" % (type(e).__name__, e)
    try:
        sock.send(b"E " + text.encode(errors="replace"))
    except OSError:
        pass


def _expect(sock, what):
    msg = sock.recv(64)
    if msg != what:
        os._exit(1)   # P went away or gave up


def child1(sysc, sock, c, config, rootfs, prep, no_pivot):
    code = 1
    try:
        sysc.prctl(S.PR_SET_DUMPABLE, 0)
        sysc.prctl(S.PR_SET_PDEATHSIG, 9)
        _expect(sock, b"G")
        from pyrunc.linux import namespaces
        ns = prep.ns
        namespaces.join(sysc, ns)
        if ns.new_user:
            sysc.unshare(S.CLONE_NEWUSER)
            # a non-dumpable task's /proc files belong to the host's root: a
            # rootless pyrunc could not write our maps (nor newuidmap act
            # for it). Nothing but us is in the new user namespace yet.
            unprivileged = os.geteuid() != 0 or prep.in_userns
            if unprivileged:
                sysc.prctl(S.PR_SET_DUMPABLE, 1)
            sock.send(b"U")
            _expect(sock, b"M")
            if unprivileged:
                sysc.prctl(S.PR_SET_DUMPABLE, 0)
        # the cgroup namespace is unshared by the init itself, once it is in
        # its cgroup (see create._drive)
        if ns.unshare & ~S.CLONE_NEWCGROUP:
            sysc.unshare(ns.unshare & ~S.CLONE_NEWCGROUP)
        if ns.time_offsets:
            # before the uid change: we are non-dumpable, so /proc/self files
            # belong to the host's root, which we still are
            namespaces.write_time_offsets(ns.time_offsets)
        if ns.new_user:
            try:
                os.setresgid(0, 0, 0)
                os.setresuid(0, 0, 0)
            except OSError:
                pass
        pid = os.fork()
        if pid == 0:
            child2(sysc, sock, c, config, rootfs, prep, no_pivot)
        sock.send(b"P %d" % pid)
        code = 0
    except BaseException as e:
        _fail(sock, e)
    os._exit(code)


def direct(prep):
    """Whether P may fork the init itself, without C1 (see create.py): no
    user namespace (made or joined) to enter first, no time namespace
    (it too applies to children only), and P is the host's root, which
    can point its own children's pid namespace back at its own."""
    ns = prep.ns
    return (os.geteuid() == 0 and not prep.in_userns
            and "user" not in ns.types and "time" not in ns.types)


def fork_init(sysc, prep):
    """In P: fork the init straight into a new pid namespace. unshare
    (CLONE_NEWPID) changes only where P's next children go, so P points
    that back at its own namespace right after the fork."""
    if not prep.ns.unshare & S.CLONE_NEWPID:
        return os.fork()
    own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    pid = -1
    try:
        sysc.unshare(S.CLONE_NEWPID)
        try:
            pid = os.fork()
        finally:
            if pid != 0:        # P, also when the fork failed
                sysc.setns(own, S.CLONE_NEWPID)
    finally:
        os.close(own)
    return pid


def child_direct(sysc, sock, c, config, rootfs, prep, no_pivot):
    """The init as P's own child (direct(prep)): it joins and makes its
    namespaces itself, where C1 would have, then goes on as C2."""
    try:
        sysc.prctl(S.PR_SET_DUMPABLE, 0)
        _expect(sock, b"G")
        from pyrunc.linux import namespaces
        namespaces.join(sysc, prep.ns)
        rest = prep.ns.unshare & ~(S.CLONE_NEWCGROUP | S.CLONE_NEWPID)
        if rest:
            sysc.unshare(rest)
    except BaseException as e:
        _fail(sock, e)
        os._exit(1)
    child2(sysc, sock, c, config, rootfs, prep, no_pivot)


def child2(sysc, sock, c, config, rootfs, prep, no_pivot):
    try:
        _init(sysc, sock, c, config, rootfs, prep, no_pivot)
    except BaseException as e:
        _fail(sock, e)
    os._exit(1)


def _init(sysc, sock, c, config, rootfs, prep, no_pivot):
    from pyrunc.linux import process as lproc
    from pyrunc.linux import rootfs as lrootfs
    from pyrunc.linux import rlimits, sysctl
    from pyrunc.linux.procfs import Procfs

    sysc.prctl(S.PR_SET_DUMPABLE, 0)
    os.setsid()
    ns = prep.ns
    # mknod needs the initial user namespace: in a new one, or already in
    # one (under rootless podman), devices are bind mounts of the host's
    in_userns = "user" in ns.types or prep.in_userns
    has_mntns = "mount" in ns.types
    proc = config.process
    procfs = Procfs.open(sysc)
    joined = []

    def join_cgroup():
        if not joined:
            msg = sock.recv(64)
            if msg[:2] != b"C ":
                os._exit(1)
            prep.host_pid = int(msg[2:])
            if ns.unshare & S.CLONE_NEWCGROUP:
                sysc.unshare(S.CLONE_NEWCGROUP)
            joined.append(True)
    if has_mntns:
        rootfd = lrootfs.prepare(sysc, config, rootfs, in_userns, prep.mounts, prep.devices,
                                 prep.mount_label, join_cgroup)
    else:
        rootfd = lrootfs.prepare_no_mntns(sysc, config, rootfs, in_userns, prep.mounts,
                                          prep.devices, prep.mount_label, join_cgroup)
    join_cgroup()
    # not the caller's affinity (`taskset -c 0 pyrunc run`): every CPU the
    # container's cpuset allows
    lproc.reset_cpu_affinity()
    if prep.listener >= 0:
        prep.notify_payload = notify_payload(config.linux.seccomp, prep.host_pid,
                                             c.state_json("created"))
    if proc is not None and proc.cwd:
        # made now, inside the root, while it is still writable (as runc)
        from pyrunc.linux import paths
        os.close(paths.mkdir_all(sysc, rootfd, proc.cwd))
    sock.send(b"H")
    _expect(sock, b"h")
    if config.hooks.create_container:
        from pyrunc.lifecycle import hooks
        st = c.state_json("creating")
        st["pid"] = prep.host_pid       # learnt with "C", before any hook
        hooks.run(config.hooks.create_container, "create_container", st, cwd=rootfs)
    nulls = []
    if has_mntns and config.linux and config.linux.masked_paths:
        # opened here, in our copy of the host's mount namespace: open_tree
        # clones only mounts of the caller's namespace
        devnull = lrootfs.open_host_devnull(sysc)
        try:
            nulls = lrootfs.devnull_clones(sysc, config, devnull)
        finally:
            os.close(devnull)
    lrootfs.pivot(sysc, rootfd, rootfs, no_pivot if has_mntns else "chroot")
    os.close(rootfd)
    if has_mntns:
        lrootfs.finalize(sysc, config, nulls)
    if config.hostname is not None:
        sysc.sethostname(config.hostname)
    if config.domainname is not None:
        sysc.setdomainname(config.domainname)
    lx = config.linux
    if lx and lx.sysctl:
        sysctl.apply(procfs, lx.sysctl)
    if lx is not None and lx.memory_policy is not None:
        lproc.apply_memory_policy(sysc, lx.memory_policy)
    from pyrunc.linux.namespaces import pid_fd
    joined_pid = pid_fd(ns)
    plan = process_plan(sysc, proc, prep, lx.personality if lx else None, procfs,
                        fork=joined_pid >= 0)
    if has_mntns:
        lrootfs.readonly_dev(sysc, config)      # after /dev/console
    if config.hooks.start_container:
        # run by the helper last before the exec: in the container, with
        # the process's credentials and seccomp filter (init.c, run_hooks)
        from pyrunc.fastjson import dumps
        st = c.state_json("created")
        st["pid"] = prep.host_pid
        plan.hooks = config.hooks.start_container
        plan.hook_state = dumps(st).encode()
    procfs.close()
    if joined_pid >= 0:
        # last: only our children enter it, and the only child is the
        # sealed helper's (F_FORK)
        sysc.setns(joined_pid, S.CLONE_NEWPID)
        os.close(joined_pid)
    base = 3 + prep.preserve
    plan.flags |= lproc.F_WAIT_FIFO
    plan.fifo_fd = fcntl.fcntl(prep.fifo, fcntl.F_DUPFD, base)
    fl = fcntl.fcntl(plan.fifo_fd, fcntl.F_GETFL)
    fcntl.fcntl(plan.fifo_fd, fcntl.F_SETFL, fl & ~os.O_NONBLOCK)
    exec_helper(sysc, sock, plan, prep, prep.done)


def process_plan(sysc, proc, prep, personality, procfs, make_console=True, fork=False):
    """The process attributes (applied now) and the plan for the helper.
    Shared by create's init and exec. fork: the helper forks the process
    into its pid namespace (F_FORK); a terminal is then made the
    controlling terminal of that child (F_NEW_SESSION), not of us."""
    from pyrunc.linux import process as lproc
    plan = lproc.InitPlan()
    if proc is not None:
        if proc.terminal:
            from pyrunc.linux import console
            console.setup(sysc, prep.console, proc.console_size, make_console,
                          ctty=not fork, uid=proc.user.uid,
                          ours=getattr(prep, "own_pty", False))
        lproc.apply_attributes(sysc, proc, personality, procfs, scheduler=not fork)
        if getattr(prep, "apparmor", None) or getattr(prep, "selinux", None):
            from pyrunc.linux import lsm
            lsm.apply(procfs, prep.apparmor, prep.selinux)
        lproc.chdir(proc.cwd)
        env = lproc.with_home(lproc.dedup_env(proc.env), proc.user.uid)
        if prep.preserve and os.environ.get("LISTEN_FDS"):
            env = [e for e in env if not e.startswith(("LISTEN_FDS=", "LISTEN_PID="))]
            env += ["LISTEN_FDS=" + os.environ["LISTEN_FDS"], "LISTEN_PID=1"]
        plan.path = lproc.find_executable(proc.args[0], env) if proc.args else ""
        plan.argv = proc.args
        plan.envp = env
        plan.uid, plan.gid = proc.user.uid, proc.user.gid
        plan.groups = proc.user.additional_gids
        plan.flags |= lproc.F_SET_CREDS
        if prep.caps is not None:
            plan.caps = prep.caps
            plan.last_cap = sysc.last_cap()
            plan.flags |= lproc.F_SET_CAPS
        if proc.no_new_privileges:
            plan.flags |= lproc.F_NNP
    if fork:
        plan.flags |= lproc.F_FORK
        if proc is not None and proc.terminal:
            plan.flags |= lproc.F_NEW_SESSION
    if prep.seccomp is not None:
        plan.bpf, plan.seccomp_flags = prep.seccomp
        plan.flags |= lproc.F_SECCOMP
        if not (proc and proc.no_new_privileges):
            plan.flags |= lproc.F_SECCOMP_EARLY
    return plan


def notify_payload(seccomp, pid, state):
    """runtime-spec "container process state", sent with the notify fd."""
    from pyrunc import OCI_VERSION
    from pyrunc.fastjson import dumps
    state = dict(state, pid=pid)
    return dumps({"ociVersion": OCI_VERSION, "fds": ["seccompFd"], "pid": pid,
                  "metadata": seccomp.listener_metadata or "", "state": state}).encode()


def exec_helper(sysc, sock, plan, prep, report_fd):
    """Exec the sealed init helper with the plan. The fds it keeps go above
    the preserved range; preserved fds are made inheritable; everything
    else of ours is close-on-exec already."""
    from pyrunc.linux import process as lproc
    base = 3 + prep.preserve
    for fd in range(3, base):
        try:
            os.set_inheritable(fd, True)
        except OSError:
            pass
    plan.report_fd = fcntl.fcntl(report_fd, fcntl.F_DUPFD, base)
    if getattr(prep, "listener", -1) >= 0:
        plan.listener_fd = fcntl.fcntl(prep.listener, fcntl.F_DUPFD, base)
        # F_FORK: pyrunc sends the payload (it holds the child's pid) with
        # its go-ahead; a placeholder says there is one
        plan.payload = b"-" if plan.flags & lproc.F_FORK else prep.notify_payload
    if plan.flags & lproc.F_FORK:
        plan.sync_fd = fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD, base)
    plan.preserve_fds = prep.preserve
    plan.rlimits = prep.rlimits     # applied by the helper (see linux/rlimits.py)
    proc_dir = getattr(prep, "proc_dir", -1)
    if proc_dir >= 0:
        cwd = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        plan.cwd_fd = fcntl.fcntl(cwd, fcntl.F_DUPFD, base)
        os.close(cwd)
    pfd = lproc.plan_memfd(sysc, plan)
    planfd = fcntl.fcntl(pfd, fcntl.F_DUPFD, base)
    os.close(pfd)
    if plan.flags & lproc.F_SET_CREDS:
        lproc.keep_nondumpable_across_exec(plan)
    sock.send(b"X")
    argv = ["pyrunc-init", str(planfd)]
    try:
        os.execve(prep.helper, argv, {})
    except FileNotFoundError:
        if proc_dir < 0:
            raise
    # Linux 5.10 (fixed by 6.1): execveat(fd, "", AT_EMPTY_PATH) fails with
    # ENOENT once the task has joined a namespace with setns (seen for mount
    # and pid), whatever the file; a path relative to the cwd does not. So
    # the same sealed memfd through the host's procfs (opened before any
    # setns; /proc/self is us there), and the helper returns to the
    # process's cwd (plan.cwd_fd).
    os.fchdir(proc_dir)
    os.execve("self/fd/%d" % prep.helper, argv, {})
