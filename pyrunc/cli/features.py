SYNOPSIS = ""
DESCRIPTION = ("Print the runtime-spec features structure: what this pyrunc really "
               "implements on this host.")
FLAGS = ()
NARGS = 0


def features():
    from pyrunc.linux import capabilities, namespaces
    from pyrunc.linux.mounts import PROPAGATION, _ATTR, _FLAGS, _NOOP
    opts = set(_ATTR) | set(_FLAGS) | _NOOP | set(PROPAGATION)
    opts |= {"r" + p for p in PROPAGATION} | {"r" + a for a in _ATTR}
    opts |= {"bind", "rbind", "tmpcopyup"}
    from pyrunc.linux.sys import real
    idmap = real().has_mount_setattr()     # idmapped mounts: Linux 5.12+
    if idmap:
        opts |= {"idmap", "ridmap"}
    f = {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.3.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer",
                  "poststart", "poststop"],
        "mountOptions": sorted(opts),
        "linux": {
            "namespaces": sorted(namespaces.FLAGS),
            "capabilities": list(capabilities.NAMES),
            "cgroup": _cgroup(),
            "seccomp": _seccomp(),
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": idmap}},
            "netDevices": {"enabled": False},
            "memoryPolicy": _mempolicy(),
        },
        "annotations": {"org.opencontainers.runtime-spec.features.pyrunc": "true"},
    }
    f["annotations"].update(_checkpoint())
    return f


def _checkpoint():
    """checkpoint/restore through CRIU: enabled where the criu binary is."""
    from pyrunc.lifecycle import checkpoint as ck
    on = ck.supported()
    out = {"org.opencontainers.runc.checkpoint.enabled": "true" if on else "false"}
    if on:
        out["org.opencontainers.runtime-spec.features.pyrunc.checkpoint"] = ",".join(
            ck.FEATURES)
    return out


def _mempolicy():
    from pyrunc.linux.process import MPOL_FLAGS, MPOL_MODES
    return {"modes": sorted(MPOL_MODES), "flags": sorted(MPOL_FLAGS)}


def _cgroup():
    import os
    try:
        from pyrunc.linux import cgroups
        kind = cgroups.detect()
    except Exception:
        kind = None
    return {"v1": kind in ("v1", "hybrid"), "v2": kind in ("v2", "hybrid"),
            # the systemd driver: cgroup v2 with a running systemd
            "systemd": kind == "v2" and os.path.isdir("/run/systemd/system"),
            "systemdUser": False, "rdma": False}


def _seccomp():
    try:
        from pyrunc.linux import seccomp
    except ImportError:
        return {"enabled": False}
    return seccomp.features()


def run(ctx, opts, args):
    import sys
    from json import dumps
    sys.stdout.write(dumps(features(), indent=4) + "\n")
    return 0
