"""`pyrunc plan` and `pyrunc validate`: the Plan that create would carry
out (plan.build, the same code, run dry: nothing is opened, connected or
made), described in full, with what the rest of create's code decides
when it runs dry: the cgroup driver's directories and every file and value
it would write (Manager.plan: the same apply code with writes recorded),
the mount targets as create resolves them in the rootfs, the process's
environment after the HOME rule. Nothing on the host changes.

Kept apart from plan.py so that create does not import it.
"""
import os

from pyrunc.errors import ConfigError, PyruncError
from pyrunc.lifecycle.plan import build, limits, problem_text


def _load(bundle):
    """(absolute bundle, Config or None, rootfs or None, [(JSON path, text)]):
    every schema error, or the model and what is wrong with its root."""
    from pyrunc.config import collect_errors, read_raw, rootfs_path
    from pyrunc.config.model import build as build_model
    bundle = os.path.abspath(bundle)
    if not os.path.isdir(bundle):
        raise PyruncError("bundle %s: no such directory" % bundle)
    _data, doc = read_raw(bundle)
    errs = collect_errors("config", doc)
    if errs:
        return bundle, None, None, errs
    config = build_model(doc)
    try:
        rootfs = rootfs_path(bundle, config)
    except ConfigError as e:
        return bundle, config, None, [("/root", problem_text(e))]
    if not os.path.isdir(rootfs):
        return bundle, config, rootfs, [("/root/path", "rootfs (%s) does not exist or is "
                                          "not a directory" % rootfs)]
    return bundle, config, rootfs, []


def plan_bundle(ctx, bundle, cid=None):
    """The plan of `create cid` for a bundle, as a dict (`pyrunc plan`).
    Every problem create would stop at is in plan["problems"] as
    {"path", "error"}; schema errors leave only those."""
    bundle, config, rootfs, found = _load(bundle)
    out = {"id": cid, "bundle": bundle, "problems": []}
    probs = out["problems"]
    probs.extend({"path": a, "error": b} for a, b in found)
    if rootfs is None:
        return out
    if cid is not None:
        from pyrunc.state import Store, validate_id
        try:
            validate_id(cid)
            if os.path.exists(os.path.join(Store(ctx.root).root, cid)):
                probs.append({"path": "", "error": "container with given ID already exists"})
        except PyruncError as e:
            probs.append({"path": "", "error": str(e)})
    found = []
    p = build(config, rootfs, warn=lambda m: None, dry=True, problems=found)
    try:
        probs.extend({"path": a, "error": b} for a, b in found)
        out.update(describe(ctx, cid, config, p, probs))
    finally:
        p.close()
    return out


def describe(ctx, cid, config, p, probs):
    """The plan's sections, in the order create carries them out."""
    proc, lx = config.process, config.linux
    out = {"ociVersion": config.oci_version, "rootfs": p.rootfs,
           "rootReadonly": bool(config.root and config.root.readonly)}
    out["namespaces"] = _namespaces(config, p)
    out["idMappings"] = {
        "uid": [_idmap(m) for m in (lx.uid_mappings if lx else None) or ()],
        "gid": [_idmap(m) for m in (lx.gid_mappings if lx else None) or ()]}
    out["cgroup"] = _cgroup(ctx, cid, config, probs)
    out["mounts"] = _mounts(config, p, probs)
    out["rootfsPropagation"] = lx.rootfs_propagation if lx else None
    from pyrunc.linux.rootfs import _unique
    out["maskedPaths"] = list(_unique(lx.masked_paths if lx else ()))
    out["readonlyPaths"] = list(lx.readonly_paths or ()) if lx else []
    out["devices"] = [{"path": d[0], "type": d[1], "major": d[2], "minor": d[3],
                       "fileMode": "%04o" % (d[4] & 0o7777), "uid": d[5] or 0,
                       "gid": d[6] or 0,
                       "how": "bind mount of the host's node" if _userns(p) and d[1] != "p"
                       else "mknod"} for d in p.devices]
    out["hostname"] = config.hostname
    out["domainname"] = config.domainname
    out["sysctl"] = dict(lx.sysctl or {}) if lx else {}
    from pyrunc.linux.rlimits import RLIMITS
    names = {v: k for k, v in RLIMITS.items()}
    out["rlimits"] = [{"type": names[n], "soft": s, "hard": h} for n, s, h in p.rlimits or ()]
    out["capabilities"] = _caps(proc, p)
    out["seccomp"] = _seccomp(lx.seccomp if lx else None, p)
    out["lsm"] = {"apparmorProfile": p.apparmor, "selinuxLabel": p.selinux,
                  "mountLabel": p.mount_label}
    out["hooks"] = _hooks(config.hooks)
    out["process"] = _process(proc, p)
    out["warnings"] = list(p.warnings)
    return out


def _userns(p):
    return p.in_userns or (p.ns is not None and "user" in p.ns.types)


def _namespaces(config, p):
    from pyrunc.linux.namespaces import JOIN_ORDER
    if p.ns is None:
        return []
    paths = {n.type: n.path for n in (config.linux.namespaces if config.linux else ())}
    joined = dict(p.ns.join)
    out = []
    for t in JOIN_ORDER:
        if t in joined:
            out.append({"type": t, "action": "join", "path": paths.get(t)})
        elif t in p.ns.types:
            out.append({"type": t, "action": "create"})
    return out


def _idmap(m):
    return {"containerID": m.container_id, "hostID": m.host_id, "size": m.size}


def _cgroup(ctx, cid, config, probs):
    """The driver's plan (Manager.plan: apply's code with writes recorded)."""
    from pyrunc.linux import cgroups
    lx = config.linux
    try:
        mgr = cgroups.new_manager(lx.cgroups_path if lx else None, cid or "<id>",
                                  systemd=bool(ctx.systemd_cgroup))
        plan = mgr.plan(lx.resources if lx else None, devices=not ctx.rootless)
    except PyruncError as e:
        probs.append({"path": "/linux/resources", "error": str(e)})
        return None
    d = mgr.dir(mgr._procs_key()) if mgr.paths else None
    if d and os.path.isdir(d) and mgr._collect_pids(d):
        probs.append({"path": "/linux/cgroupsPath", "error": "container's cgroup is not "
                      "empty: processes found in %s" % d})
    plan["cgroupsPath"] = lx.cgroups_path if lx else None
    if ctx.rootless and not (lx and (lx.cgroups_path or limits(lx.resources))):
        top = plan["mkdir"][0] if plan["mkdir"] else None
        if top and not os.access(os.path.dirname(top), os.W_OK):
            # create's rule (runc's): none we may make and none asked for
            plan["warnings"].append("rootless: %s is not writable and no cgroupsPath or "
                                    "limit is asked for: the container stays in the "
                                    "caller's cgroup" % os.path.dirname(top))
    return plan


_ATTR_NAMES = ((0x1, "ro"), (0x2, "nosuid"), (0x4, "nodev"), (0x8, "noexec"),
               (0x80, "nodiratime"), (0x200000, "nosymfollow"))
_ATIME = {0x0: "relatime", 0x10: "noatime", 0x20: "strictatime"}
_PROP = {1 << 17: "unbindable", 1 << 18: "private", 1 << 19: "slave", 1 << 20: "shared"}


def _attrs(attr_set, attr_clr):
    """(set names, cleared names) of a mount_setattr pair."""
    from pyrunc.linux import sys as S
    on = [n for b, n in _ATTR_NAMES if attr_set & b]
    off = [n for b, n in _ATTR_NAMES if attr_clr & b and not attr_set & b]
    if attr_clr & S.MOUNT_ATTR__ATIME:
        on.append(_ATIME.get(attr_set & S.MOUNT_ATTR__ATIME, "relatime"))
    return on, off


def _mounts(config, p, probs):
    from pyrunc.linux import paths
    from pyrunc.linux import sys as S
    from pyrunc.linux.mounts import FS_TYPES_NEED_DIR
    out = []
    sysc = rootfd = None
    if os.path.isdir(p.rootfs):
        sysc = S.real()
        rootfd = os.open(p.rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    known = _filesystems()
    try:
        for i, m, o in p.mounts:
            idmapped = bool(o.idmap or m.uid_mappings or m.gid_mappings)
            fstype = m.type or ("bind" if o.bind or idmapped else None)
            dest = m.destination if m.destination.startswith("/") else "/" + m.destination
            on, off = _attrs(o.attr_set, o.attr_clr | o.implied_clr)
            ron, roff = _attrs(o.rattr_set, o.rattr_clr)
            d = {"index": i, "destination": dest, "type": fstype, "source": m.source,
                 "bind": bool(o.bind or fstype == "bind"), "recursive": o.recursive,
                 "set": on, "clear": off, "recursiveSet": ron, "recursiveClear": roff,
                 "propagation": [("r" if rec else "") + _PROP.get(f, str(f))
                                 for f, rec in o.propagation],
                 "data": ",".join(o.data), "idmap": idmapped, "tmpcopyup": o.tmpcopyup}
            if rootfd is not None:
                d["target"], d["targetExists"] = paths.where_in_root(sysc, rootfd, dest)
            fail = _mount_fails(sysc, rootfd, m, o, fstype, dest, known, FS_TYPES_NEED_DIR)
            if fail:
                d["fails"] = fail
                probs.append({"path": "/mounts/%d" % i, "error": "error mounting %s: %s"
                              % (dest, fail)})
            out.append(d)
    finally:
        if rootfd is not None:
            os.close(rootfd)
    return out


def _filesystems():
    try:
        with open("/proc/filesystems") as f:
            return {line.split()[-1] for line in f if line.strip()}
    except OSError:
        return None


def _mount_fails(sysc, rootfd, m, o, fstype, dest, known, need_dir):
    """Why mount_one would fail on this mount, as far as can be told
    without doing it; None if nothing says it would."""
    if o.bind or fstype == "bind":
        if not m.source:
            return "bind mount needs a source"
        try:
            os.stat(m.source)
        except OSError as e:
            return "source %s: %s" % (m.source, os.strerror(e.errno).lower())
        return None
    if fstype is None:
        return "no filesystem type"
    if known is not None and fstype not in known:
        return "unknown filesystem type %r (not in /proc/filesystems)" % fstype
    if fstype in need_dir and rootfd is not None:
        from pyrunc.linux import paths
        from pyrunc.linux import sys as S
        try:
            fd = paths.open_in_root(sysc, rootfd, dest,
                                    resolve=S.RESOLVE_IN_ROOT | S.RESOLVE_NO_SYMLINKS)
        except FileNotFoundError:
            return None
        except OSError as e:
            if e.errno == 40:
                return 'filesystem "%s" must be mounted on ordinary directory' % fstype
            return None
        try:
            import stat
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                return 'filesystem "%s" must be mounted on ordinary directory' % fstype
        finally:
            os.close(fd)
    return None


def _caps(proc, p):
    from pyrunc.linux import capabilities as C
    if proc is None or proc.capabilities is None:
        return None
    out = {}
    granted = p.caps
    lost = []
    for n, s in enumerate(C.SETS):
        asked = C.mask(getattr(proc.capabilities, s), s)
        have = granted[n] if granted is not None else 0
        out[s] = _cap_names(have)
        for b in range(64):
            if asked >> b & 1 and not have >> b & 1:
                name = C.NAMES[b] if b < len(C.NAMES) else str(b)
                if name not in lost:
                    lost.append(name)
    out["notGranted"] = lost
    return out


def _cap_names(m):
    from pyrunc.linux.capabilities import NAMES
    return [NAMES[b] for b in range(len(NAMES)) if m >> b & 1]


def _seccomp(sc, p):
    if sc is None:
        return None
    out = {"defaultAction": sc.default_action, "defaultErrnoRet": sc.default_errno_ret,
           "architectures": list(sc.architectures or ()), "flags": list(sc.flags or ()),
           "listenerPath": sc.listener_path,
           "rules": [{"names": list(r.names), "action": r.action, "errnoRet": r.errno_ret,
                      "args": len(r.args or ())} for r in sc.syscalls or ()]}
    if p.seccomp is not None:
        out["instructions"] = len(p.seccomp[0]) // 8
        out["filterFlags"] = p.seccomp[1]
    return out


_HOOK_KINDS = (("prestart", "prestart", "runtime namespace, after the mounts"),
               ("createRuntime", "create_runtime", "runtime namespace, after the mounts"),
               ("createContainer", "create_container", "container namespaces, before "
                "pivot_root"),
               ("startContainer", "start_container", "the container, just before the "
                "process's exec"),
               ("poststart", "poststart", "runtime namespace, after start"),
               ("poststop", "poststop", "runtime namespace, at delete"))


def _hooks(hooks):
    out = []
    for name, attr, where in _HOOK_KINDS:
        for h in getattr(hooks, attr) or ():
            out.append({"kind": name, "runs": where, "path": h.path,
                        "args": list(h.args or ()), "env": list(h.env or ()),
                        "timeout": h.timeout})
    return out


def _process(proc, p):
    if proc is None:
        return None
    from pyrunc.linux import paths, process
    from pyrunc.linux import sys as S
    env = process.dedup_env(proc.env or [])
    passwd = None
    if os.path.isdir(p.rootfs):
        fd = os.open(p.rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            passwd, exists = paths.where_in_root(S.real(), fd, "/etc/passwd")
            if not exists:
                passwd = None
        finally:
            os.close(fd)
    env = process.with_home(env, proc.user.uid, passwd or "/nonexistent")
    u = proc.user
    return {"args": list(proc.args or ()), "env": env, "cwd": proc.cwd,
            "user": {"uid": u.uid, "gid": u.gid, "umask": u.umask,
                     "additionalGids": list(u.additional_gids or ())},
            "terminal": bool(proc.terminal), "noNewPrivileges": bool(proc.no_new_privileges),
            "oomScoreAdj": proc.oom_score_adj}


# --- pyrunc validate ------------------------------------------------------

def validate_bundle(bundle):
    """Every problem of a bundle: [(JSON path, text)], [] if it is valid.
    Schema errors first (all of them); the checks beyond the schema only
    for a document the schema accepts."""
    bundle, config, rootfs, probs = _load(bundle)
    if config is not None:
        build(config, rootfs or bundle, warn=lambda m: None, dry=True, problems=probs).close()
    return probs
