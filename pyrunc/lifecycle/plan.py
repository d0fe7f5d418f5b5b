"""The plan: everything create will do, worked out before anything is done.

create() calls build() first and then carries the plan out: the
namespaces it opens, the mounts with their parsed options (the init mounts
exactly these), the device nodes, the capability masks, rlimits, the
compiled seccomp filter and the LSM labels the children use are the
plan's. `pyrunc plan` calls the same build() without opening or connecting
anything; plan_report.py describes the result, with what the rest of
create's code decides when it runs dry. `pyrunc validate` is build() in
collect mode: every independent problem is reported, not only the first.
"""

from pyrunc import log
from pyrunc.errors import ConfigError, PyruncError
from pyrunc.lifecycle.common import Fds


class Plan(Fds):
    """What create will do; also the fds it opened for that (close())."""

    def __init__(self):
        Fds.__init__(self)
        self.ns = None
        self.warnings = []

    def close(self):
        Fds.close(self)
        if self.ns is not None:
            self.ns.close()


def build(config, rootfs, warn=log.warn, dry=False, problems=None):
    """The Plan for a validated config. dry: for `plan` and `validate`
    (connects to nothing). problems: a list to collect every problem into
    as (JSON path, text) instead of raising at the first."""
    from pyrunc.linux import capabilities, namespaces, rlimits, sysctl
    p = Plan()
    p.rootfs = rootfs

    def warn_(msg):
        p.warnings.append(msg)
        warn(msg)

    def step(path, fn, *a):
        if problems is None:
            return fn(*a)
        try:
            return fn(*a)
        except PyruncError as e:
            problems.append((path, problem_text(e)))
            return None

    proc = config.process
    lx = config.linux
    try:
        p.rlimits = step("/process/rlimits", rlimits.check, proc.rlimits) if proc else []
        p.ns = step("/linux/namespaces", namespaces.plan, config)
        from pyrunc.linux import in_userns
        p.in_userns = in_userns()
        new_user = p.ns is not None and p.ns.new_user
        # in a new user namespace the process gets every capability of it,
        # whatever we hold outside (rootless)
        p.caps = step("/process/capabilities", capabilities.masks, proc.capabilities, warn_,
                      new_user) if proc and proc.capabilities else None
        if p.ns is not None:
            new_types = {t for t in p.ns.types if t not in dict(p.ns.join)}
            step("/linux/sysctl", sysctl.check, lx.sysctl if lx else None, new_types)
            if (config.hostname or config.domainname) and "uts" not in p.ns.types:
                step("/hostname", _raise, "unable to set hostname without a private UTS "
                     "namespace")
        if lx is not None and lx.net_devices:
            step("/linux/netDevices", _raise, "config.json: /linux/netDevices: moving network "
                 "devices into the container is not supported by pyrunc")
        if lx is not None and lx.intel_rdt is not None:
            step("/linux/intelRdt", _raise, "config.json: /linux/intelRdt: Intel RDT is not "
                 "supported by pyrunc")
        if proc and proc.oom_score_adj is not None and not -1000 <= proc.oom_score_adj <= 1000:
            step("/process/oomScoreAdj", _raise, "config.json: /process/oomScoreAdj: %d is out "
                 "of range -1000..1000" % proc.oom_score_adj)
        if lx is not None:
            from pyrunc.linux.process import check_memory_policy
            step("/linux/memoryPolicy", check_memory_policy, lx.memory_policy)
        from pyrunc.linux import lsm
        p.apparmor, p.selinux, p.mount_label = lsm.check(proc, lx, warn_)
        from pyrunc.linux import devices, rootfs as lrootfs
        p.mounts = step("/mounts", lrootfs.mount_steps, config, rootfs) or []
        p.devices = step("/linux/devices", devices.device_list, config) or []
        p.seccomp = None
        p.listener = -1
        if lx and lx.seccomp is not None:
            from pyrunc.linux import seccomp
            p.seccomp = step("/linux/seccomp", seccomp.compile, lx.seccomp, not dry)
            if p.seccomp is not None:
                log.debug("seccomp filter flags: %d" % p.seccomp[1])
                if p.seccomp[1] & seccomp.FLAG_NEW_LISTENER and not dry:
                    p.listener = p.keep(seccomp.connect_listener(lx.seccomp.listener_path))
    except BaseException:
        p.close()
        raise
    return p


def _raise(text):
    raise ConfigError(text)


def problem_text(e):
    """A problem's words without the "config.json: /path: " its path says."""
    s = str(e)
    if s.startswith("config.json: /"):
        s = s.partition(": ")[2]
        if s.startswith("/"):
            s = s.partition(": ")[2] or s
    return s


def limits(res):
    """Whether linux.resources asks for any limit (device rules are not one:
    a rootless container gets the host's device nodes, bound)."""
    return res is not None and any(getattr(res, f) for f in res.__slots__ if f != "devices")
