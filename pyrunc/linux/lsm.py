"""process.apparmorProfile, process.selinuxLabel and linux.mountLabel.

Rule (as crun, unlike runc which errors): where the host has no such LSM,
the field is ignored with a warning, since there is nothing to confine
with; where it has one, the label is written to /proc/<pid>/attr through
the private procfs handle (CVE-2019-16884, CVE-2025-52881) just before the
init helper is exec'd, so it takes effect at that exec.
"""
import os


def apparmor_enabled():
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip() == "Y" and os.path.isdir("/sys/kernel/security/apparmor")
    except OSError:
        return False


def selinux_enabled():
    return os.path.exists("/sys/fs/selinux/enforce")


def check(proc, linux, warn):
    """Returns (apparmor profile, selinux label, mount label) to apply."""
    aa = proc.apparmor_profile if proc else None
    se = proc.selinux_label if proc else None
    ml = linux.mount_label if linux else None
    if aa and not apparmor_enabled():
        warn("apparmorProfile %r ignored: AppArmor is not enabled on this host" % aa)
        aa = None
    if (se or ml) and not selinux_enabled():
        if se:
            warn("selinuxLabel %r ignored: SELinux is not enabled on this host" % se)
        if ml:
            warn("mountLabel %r ignored: SELinux is not enabled on this host" % ml)
        se = ml = None
    return aa, se, ml


def apply(procfs, apparmor, selinux):
    """In the init (or exec) process, before the helper is exec'd."""
    if apparmor:
        procfs.write(procfs.self_path("attr/apparmor/exec"), "exec " + apparmor)
    if selinux:
        procfs.write(procfs.self_path("attr/exec"), selinux)
