"""The container process: attributes, executable lookup, and the init plan.

pyrunc (Python) does everything a process needs that survives execve
(cwd, umask, rlimits, oom_score_adj, personality, scheduler, ioPriority),
then execs the sealed static helper csrc/init.c with a *plan*: the
credentials, capabilities, no_new_privs and seccomp program to apply as
the last steps, and the argv/envp to execve. See csrc/init.c.
"""
import os
import stat
import struct

from pyrunc.errors import PyruncError
from pyrunc.linux import sys as S

PLAN_MAGIC = b"PYRUNCI7"
F_WAIT_FIFO, F_SET_CREDS, F_SET_CAPS, F_NNP, F_SECCOMP, F_SECCOMP_EARLY = 1, 2, 4, 8, 16, 32
F_FORK, F_NEW_SESSION = 64, 128
_HDR = struct.Struct("=8sIiiIIIIIQQQQQIIIIIiIIiiII")
_RLIM_INF = (1 << 64) - 1
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class InitPlan:
    """Everything the init helper needs; packed into a memfd by pack()."""

    __slots__ = ("flags", "fifo_fd", "report_fd", "preserve_fds", "uid", "gid", "groups",
                 "last_cap", "caps", "seccomp_flags", "bpf", "path", "argv", "envp",
                 "listener_fd", "payload", "rlimits", "sync_fd", "cwd_fd", "hooks",
                 "hook_state")

    def __init__(self):
        self.flags = 0
        self.fifo_fd = -1
        self.report_fd = -1
        self.preserve_fds = 0
        self.uid = self.gid = 0
        self.groups = ()
        self.last_cap = 40
        self.caps = (0, 0, 0, 0, 0)
        self.seccomp_flags = 0
        self.bpf = b""
        self.path = ""
        self.argv = ()
        self.envp = ()
        self.listener_fd = -1
        self.payload = b""
        self.rlimits = ()       # [(resource, soft, hard)], applied by the helper
        self.sync_fd = -1       # F_FORK: the socket to pyrunc
        self.cwd_fd = 0         # > 2: the helper fchdir()s to it first
        self.hooks = ()         # startContainer: run by the helper before the exec
        self.hook_state = b""   # their stdin

    def pack(self):
        strings = b"".join(s.encode() + b"\0" for s in (self.path,) + tuple(self.argv)
                           + tuple(self.envp))
        hooks = b""
        if self.hooks:
            items = [self.hook_state.decode()]
            for h in self.hooks:
                args = list(h.args or ())
                items += [str(h.timeout or 0), str(len(args)),
                          str(-1 if h.env is None else len(h.env)), h.path] + args \
                    + list(h.env or ())
            hooks = b"".join(s.encode() + b"\0" for s in items)
        b, e, i, p, a = self.caps
        hdr = _HDR.pack(PLAN_MAGIC, self.flags, self.fifo_fd, self.report_fd,
                        self.preserve_fds, self.uid, self.gid, len(self.groups), self.last_cap,
                        b, e, p, i, a, self.seccomp_flags, len(self.bpf) // 8,
                        len(self.argv), len(self.envp), len(strings), self.listener_fd,
                        len(self.payload), len(self.rlimits), self.sync_fd, self.cwd_fd,
                        len(self.hooks), len(hooks))
        rl = b"".join(struct.pack("=IIQQ", r, 0, min(soft, _RLIM_INF), min(hard, _RLIM_INF))
                      for r, soft, hard in self.rlimits)
        return (hdr + rl + struct.pack("=%dI" % len(self.groups), *self.groups) + self.bpf
                + self.payload + strings + hooks)


def helper_memfd(sysc):
    """A sealed memfd holding the init helper (CVE-2019-5736): the container
    can never reach a host file through /proc/<pid>/exe of its init."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "_init_helper.bin")
    fd = sysc.memfd_create("pyrunc-init", S.MFD_CLOEXEC | S.MFD_ALLOW_SEALING)
    try:
        src = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            size = os.fstat(src).st_size
            off = 0
            while off < size:
                n = os.sendfile(fd, src, off, size - off)
                if n <= 0:
                    break
                off += n
        finally:
            os.close(src)
        import fcntl
        fcntl.fcntl(fd, S.F_ADD_SEALS, S.F_SEAL_SEAL | S.F_SEAL_SHRINK | S.F_SEAL_GROW
                    | S.F_SEAL_WRITE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def proc_dir(sysc):
    """An O_PATH fd of the host's /proc (checked to be procfs), taken before
    any namespace is joined: exec_helper's way to the helper on kernels whose
    execveat(AT_EMPTY_PATH) fails in a mount namespace joined with setns."""
    fd = os.open("/proc", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    if sysc.fstatfs_type(fd) != 0x9FA0:
        os.close(fd)
        raise PyruncError("/proc is not procfs")
    return fd


def proc_contexts(helper_fd, pidns_fd, n):
    """n procfs contexts of the pid namespace pidns_fd, made by the sealed
    init helper (`--proc-context`, see csrc/init.c) so that pyrunc can mount
    the container's /proc without entering that namespace."""
    import _socket
    import fcntl
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    fds = []
    # above 4 (and close-on-exec), so the dup2s below cannot overwrite them
    ns_hi = fcntl.fcntl(pidns_fd, fcntl.F_DUPFD_CLOEXEC, 10)
    sock_hi = fcntl.fcntl(b.fileno(), fcntl.F_DUPFD_CLOEXEC, 10)
    try:
        # the helper's own errors (fd 2) come back as packets without fds
        pid = os.posix_spawn("/proc/self/fd/%d" % helper_fd,
                             ["pyrunc-init", "--proc-context", "3", "4", str(n)], {},
                             file_actions=[(os.POSIX_SPAWN_DUP2, ns_hi, 3),
                                           (os.POSIX_SPAWN_DUP2, sock_hi, 4),
                                           (os.POSIX_SPAWN_DUP2, sock_hi, 2)])
        b.close()
        os.close(sock_hi)
        sock_hi = -1
        err = b""
        while len(fds) < n:
            data, anc, _fl, _addr = a.recvmsg(512, _socket.CMSG_SPACE(4), 0x40000000)
            if not data:
                break
            got = [struct.unpack("i", d[:4])[0] for lvl, typ, d in anc
                   if lvl == _socket.SOL_SOCKET and typ == _socket.SCM_RIGHTS]
            if not got:
                err += data
            fds += got
        _, st = os.waitpid(pid, 0)
        if len(fds) < n or st:
            raise PyruncError("procfs for the joined pid namespace: %s"
                              % (err.decode(errors="replace").strip() or "helper failed"))
        return fds
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    finally:
        os.close(ns_hi)
        if sock_hi >= 0:
            os.close(sock_hi)
        a.close()
        b.close()


def plan_memfd(sysc, plan):
    """The plan in a sealed memfd: nothing can change it between our write
    and the helper's read (a container process that got at the fd through
    /proc could otherwise rewrite the credentials or the seccomp program)."""
    import fcntl
    fd = sysc.memfd_create("pyrunc-plan", S.MFD_ALLOW_SEALING)
    data = plan.pack()
    off = 0
    while off < len(data):
        off += os.write(fd, data[off:])
    fcntl.fcntl(fd, S.F_ADD_SEALS, S.F_SEAL_SEAL | S.F_SEAL_SHRINK | S.F_SEAL_GROW
                | S.F_SEAL_WRITE)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def keep_nondumpable_across_exec(plan):
    """execve() makes a task dumpable again, until the helper's first
    instruction sets it back: a window in which a container process could
    open the helper's /proc files (CVE-2016-9962). The kernel keeps the task
    non-dumpable across execve when its real and effective gids differ, so
    the real gid is set to another mapped gid just for this exec (the
    helper sets every gid to the process's own before the final execve).
    Returns False where no other gid is mapped (one-id user namespaces)."""
    egid = os.getegid()
    for g in (plan.gid,) + tuple(plan.groups) + (65534, 1):
        if g == egid:
            continue
        try:
            os.setresgid(g, egid, egid)
            return True
        except OSError:
            continue
    return False


def env_path(env):
    for e in env:
        if e.startswith("PATH="):
            return e[5:]
    return DEFAULT_PATH


def _is_exec(path):
    try:
        st = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_mode & 0o111


def dedup_env(env):
    """One entry per name, the last value winning at the first one's place
    (runc: ["ONE=two", "ONE=three"] is ONE=three)."""
    pos, out = {}, []
    for e in env:
        k = e.partition("=")[0]
        if k in pos:
            out[pos[k]] = e
        else:
            pos[k] = len(out)
            out.append(e)
    return out


def with_home(env, uid, passwd="/etc/passwd"):
    """HOME for the process when env has none or an empty one (as runc):
    the user's home from the container's /etc/passwd, else "/". Called
    inside the container's root; /etc/passwd is read only if it is a
    regular file (never blocks on a FIFO the image put there)."""
    if any(e.startswith("HOME=") and len(e) > 5 for e in env):
        return env
    home = "/"
    try:
        fd = os.open(passwd, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        fd = -1
    if fd >= 0:
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):
                for line in os.read(fd, 1 << 20).decode(errors="replace").splitlines():
                    f = line.split(":")
                    if len(f) >= 6 and f[2] == str(uid) and f[5]:
                        home = f[5]
                        break
        except OSError:
            pass
        finally:
            os.close(fd)
    return [e for e in env if not e.startswith("HOME=")] + ["HOME=" + home]


def find_executable(arg0, env):
    """Resolve args[0] in the container's root (we are after pivot_root)."""
    if "/" in arg0:
        try:
            st = os.stat(arg0)
        except OSError as e:
            # runc 1.5's wording (1.1 said 'exec: "P": stat P: ...')
            raise PyruncError('exec %s: %s' % (arg0, os.strerror(e.errno).lower()))
        if stat.S_ISDIR(st.st_mode):
            raise PyruncError('exec: "%s": is a directory' % arg0)
        if not st.st_mode & 0o111:
            raise PyruncError('exec: "%s": permission denied' % arg0)
        return arg0
    for d in env_path(env).split(":"):
        cand = os.path.join(d or ".", arg0)
        if _is_exec(cand):
            return cand
    raise PyruncError('exec: "%s": executable file not found in $PATH' % arg0)


def chdir(cwd):
    """process.cwd: created if missing, then verified inside the root (CVE-2024-21626)."""
    try:
        os.chdir(cwd)
    except FileNotFoundError:
        try:
            os.makedirs(cwd, 0o755, exist_ok=True)
            os.chdir(cwd)
        except OSError as e:
            raise PyruncError("chdir %s: %s" % (cwd, os.strerror(e.errno).lower()))
    except OSError as e:
        raise PyruncError("chdir %s: %s" % (cwd, os.strerror(e.errno).lower()))
    try:
        here = os.getcwd()
    except OSError:
        here = None
    if not here or not here.startswith("/"):
        raise PyruncError("current working directory is outside of container mount namespace "
                          "root -- possible container breakout detected")


PERSONALITY = {"LINUX": 0x0000, "LINUX32": 0x0008}
SCHED_POLICY = {"SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3,
                "SCHED_ISO": 4, "SCHED_IDLE": 5, "SCHED_DEADLINE": 6}
SCHED_FLAGS = {"SCHED_FLAG_RESET_ON_FORK": 0x1, "SCHED_FLAG_RECLAIM": 0x2,
               "SCHED_FLAG_DL_OVERRUN": 0x4, "SCHED_FLAG_KEEP_POLICY": 0x8,
               "SCHED_FLAG_KEEP_PARAMS": 0x10, "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
               "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40}
IOPRIO_CLASS = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}


MPOL_MODES = {"MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2, "MPOL_INTERLEAVE": 3,
              "MPOL_LOCAL": 4, "MPOL_PREFERRED_MANY": 5, "MPOL_WEIGHTED_INTERLEAVE": 6}
MPOL_FLAGS = {"MPOL_F_NUMA_BALANCING": 1 << 13, "MPOL_F_RELATIVE_NODES": 1 << 14,
              "MPOL_F_STATIC_NODES": 1 << 15}


def parse_cpu_list(text, limit=1 << 16):
    """"0-3,7" -> [0, 1, 2, 3, 7]; ValueError past `limit` (no kernel has
    that many CPUs or NUMA nodes, and "0-9876543210" must not exhaust
    memory)."""
    out = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        lo, hi = int(lo), int(hi or lo)
        if lo < 0 or hi < lo or hi >= limit:
            raise ValueError(part)
        out.extend(range(lo, hi + 1))
    return out


# MAX_NUMNODES of the largest configurations (1 << CONFIG_NODES_SHIFT, 10)
MAX_NODES = 1024


def check_memory_policy(mp):
    """Before anything is made: a bad node list is a config error."""
    from pyrunc.errors import ConfigError
    if mp is None or not mp.nodes:
        return
    try:
        nodes = parse_cpu_list(mp.nodes, MAX_NODES)
    except ValueError:
        raise ConfigError("config.json: /linux/memoryPolicy/nodes: invalid memory policy node: "
                          "%r is not a list of NUMA nodes below %d" % (mp.nodes, MAX_NODES)) \
            from None
    if mp.mode in ("MPOL_DEFAULT", "MPOL_LOCAL") and nodes:
        # set_mempolicy(2) would say EINVAL; runc says this
        raise ConfigError("config.json: /linux/memoryPolicy: invalid memory policy: %s mode "
                          "requires 0 nodes but got %d" % (mp.mode, len(nodes)))


def apply_memory_policy(sysc, mp):
    """linux.memoryPolicy: set_mempolicy(2) for the process (inherited by execve)."""
    if mp is None:
        return
    mode = MPOL_MODES.get(mp.mode)
    if mode is None:
        raise PyruncError("memoryPolicy: unknown mode %r" % mp.mode)
    for f in mp.flags or ():
        if f not in MPOL_FLAGS:
            raise PyruncError("memoryPolicy: unknown flag %r" % f)
        mode |= MPOL_FLAGS[f]
    try:
        nodes = parse_cpu_list(mp.nodes, MAX_NODES)
    except ValueError:
        raise PyruncError("memoryPolicy: bad nodes %r" % mp.nodes) from None
    try:
        sysc.set_mempolicy(mode, nodes)
    except OSError as e:
        raise PyruncError("memoryPolicy: set_mempolicy: %s" % os.strerror(e.errno).lower())


def apply_scheduler(sysc, pid, s):
    """process.scheduler for pid (0: the caller). With F_FORK pyrunc applies
    it to the forked process itself, before its go-ahead: set in the helper
    before the fork, SCHED_FLAG_RESET_ON_FORK would drop it and a
    SCHED_DEADLINE task could not fork at all."""
    flags = 0
    for fl in s.flags or ():
        flags |= SCHED_FLAGS[fl]
    try:
        sysc.sched_setattr(pid, SCHED_POLICY[s.policy], flags, s.nice or 0, s.priority or 0,
                           s.runtime or 0, s.deadline or 0, s.period or 0)
    except OSError as e:
        if e.errno == 1 and s.policy == "SCHED_DEADLINE":
            # sched_setattr(2): EPERM when the affinity is not every CPU
            raise PyruncError("scheduler: process scheduler can't be used together with "
                              "AllowedCPUs (SCHED_DEADLINE needs every CPU)") from None
        raise PyruncError("scheduler: %s" % os.strerror(e.errno).lower()) from None


def apply_attributes(sysc, proc, personality=None, procfs=None, scheduler=True):
    """Attributes that survive execve, applied in the container's init
    (the scheduler by the caller when ``scheduler`` is false)."""
    if personality is not None:
        sysc.personality(PERSONALITY[personality.domain])
    if proc.oom_score_adj is not None:
        target = procfs.self_path("oom_score_adj") if procfs else None
        if procfs:
            procfs.write(target, str(proc.oom_score_adj))
        else:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(proc.oom_score_adj))
    if proc.scheduler is not None and scheduler:
        apply_scheduler(sysc, 0, proc.scheduler)
    io = proc.io_priority
    if io is not None:
        try:
            sysc.ioprio_set(1, 0, IOPRIO_CLASS[io.io_class] << 13 | (io.priority or 0))
        except OSError as e:
            raise PyruncError("ioPriority: %s" % os.strerror(e.errno).lower())
    os.umask(proc.user.umask if proc.user.umask is not None else 0o022)


def send_pidfd(sock_fd, pid):
    """--pidfd-socket (runc): one sendmsg on the connected socket, payload
    "pidfd", a pidfd of the process by SCM_RIGHTS. The caller can then
    signal that very process (pidfd_send_signal) with no pid-reuse race."""
    import _socket
    import struct
    from pyrunc.errors import PyruncError
    try:
        fd = os.pidfd_open(pid)
    except OSError as e:
        raise PyruncError("pidfd_open %d: %s" % (pid, os.strerror(e.errno).lower())) from None
    sock = _socket.socket(fileno=os.dup(sock_fd))
    try:
        sock.sendmsg([b"pidfd"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("i", fd))])
    except OSError as e:
        raise PyruncError("pidfd socket: %s" % os.strerror(e.errno).lower()) from None
    finally:
        sock.close()
        os.close(fd)


def reset_cpu_affinity():
    """Every CPU, which the kernel narrows to the task's cpuset. Called once
    the process is in the container's cgroup: a task keeps the affinity it
    inherits (since Linux 6.2 also across a cpuset move, as the user's
    request), so a runtime started under `taskset` would pass it on (runc
    resets it too)."""
    try:
        os.sched_setaffinity(0, range(possible_cpus()))
    except OSError:
        pass


_possible = None


def possible_cpus():
    """1 + the highest CPU id the kernel can ever bring online. Read once, by
    pyrunc on the host before it forks (preload): a child that has joined the
    container's mount namespace would read the container's /sys."""
    global _possible
    if _possible is None:
        try:
            with open("/sys/devices/system/cpu/possible") as f:
                n = int(f.read().strip().replace(",", "-").split("-")[-1]) + 1
        except (OSError, ValueError):
            n = 1024
        _possible = max(1, min(n, 8192))
    return _possible
