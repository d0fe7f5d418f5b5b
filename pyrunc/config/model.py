"""The typed, immutable model of config.json.

load_bundle() (pyrunc.config) validates the raw document against our
schema, then build() turns it into these records once; no other module
reads raw config dicts. Field names are the spec's, in snake_case.
Every record is a Struct: slotted, immutable, missing fields are None.
linux.resources has its own home in pyrunc.config.resources.
"""
from pyrunc.config.struct import Struct, frozen


class Config(Struct):
    __slots__ = ("oci_version", "root", "mounts", "process", "hostname", "domainname",
                 "hooks", "annotations", "linux")


class Root(Struct):
    __slots__ = ("path", "readonly")


class Mount(Struct):
    __slots__ = ("destination", "source", "type", "options", "uid_mappings", "gid_mappings")


class Process(Struct):
    __slots__ = ("terminal", "console_size", "cwd", "env", "args", "command_line", "rlimits",
                 "apparmor_profile", "capabilities", "no_new_privileges", "oom_score_adj",
                 "scheduler", "selinux_label", "io_priority", "exec_cpu_affinity", "user")


class User(Struct):
    __slots__ = ("uid", "gid", "umask", "additional_gids", "username")


class ConsoleSize(Struct):
    __slots__ = ("height", "width")


class Rlimit(Struct):
    __slots__ = ("type", "soft", "hard")


class Capabilities(Struct):
    __slots__ = ("bounding", "effective", "inheritable", "permitted", "ambient")


class Scheduler(Struct):
    __slots__ = ("policy", "nice", "priority", "flags", "runtime", "deadline", "period")


class IOPriority(Struct):
    __slots__ = ("io_class", "priority")


class CPUAffinity(Struct):
    __slots__ = ("initial", "final")


class Hook(Struct):
    __slots__ = ("path", "args", "env", "timeout")


class Hooks(Struct):
    __slots__ = ("prestart", "create_runtime", "create_container", "start_container",
                 "poststart", "poststop")


class Linux(Struct):
    __slots__ = ("namespaces", "uid_mappings", "gid_mappings", "time_offsets", "devices",
                 "net_devices", "cgroups_path", "resources", "rootfs_propagation",
                 "seccomp", "sysctl", "masked_paths", "readonly_paths", "mount_label",
                 "personality", "intel_rdt", "memory_policy")


class Namespace(Struct):
    __slots__ = ("type", "path")


class IDMapping(Struct):
    __slots__ = ("container_id", "host_id", "size")


class TimeOffset(Struct):
    __slots__ = ("secs", "nanosecs")


class Device(Struct):
    __slots__ = ("type", "path", "major", "minor", "file_mode", "uid", "gid")


class NetDevice(Struct):
    __slots__ = ("name",)


class Seccomp(Struct):
    __slots__ = ("default_action", "default_errno_ret", "architectures", "flags",
                 "listener_path", "listener_metadata", "syscalls")


class SeccompSyscall(Struct):
    __slots__ = ("names", "action", "errno_ret", "args")


class SeccompArg(Struct):
    __slots__ = ("index", "value", "value_two", "op")


class Personality(Struct):
    __slots__ = ("domain", "flags")


class IntelRdt(Struct):
    __slots__ = ("clos_id", "l3_cache_schema", "mem_bw_schema", "schemata",
                 "enable_monitoring")


class MemoryPolicy(Struct):
    __slots__ = ("mode", "nodes", "flags")


def _t(v):
    return tuple(v) if v is not None else None


def _idmaps(v):
    if v is None:
        return None
    return tuple(IDMapping(container_id=m["containerID"], host_id=m["hostID"], size=m["size"])
                 for m in v)


def _hooks(v):
    if not v:
        return ()
    return tuple(Hook(path=h["path"], args=_t(h.get("args")), env=_t(h.get("env")),
                      timeout=h.get("timeout")) for h in v)


def build_process(p):
    """process object (config.json's, or an exec --process file's)."""
    if p is None:
        return None
    u = p.get("user") or {}
    caps = p.get("capabilities")
    sched = p.get("scheduler")
    iop = p.get("ioPriority")
    cs = p.get("consoleSize")
    aff = p.get("execCPUAffinity")
    return Process(
        terminal=bool(p.get("terminal", False)),
        console_size=ConsoleSize(height=cs["height"], width=cs["width"]) if cs else None,
        cwd=p.get("cwd"),
        env=_t(p.get("env")) or (),
        args=_t(p.get("args")) or (),
        command_line=p.get("commandLine"),
        rlimits=tuple(Rlimit(type=r["type"], soft=r["soft"], hard=r["hard"])
                      for r in p.get("rlimits") or ()),
        apparmor_profile=p.get("apparmorProfile"),
        capabilities=Capabilities(
            bounding=_t(caps.get("bounding")), effective=_t(caps.get("effective")),
            inheritable=_t(caps.get("inheritable")), permitted=_t(caps.get("permitted")),
            ambient=_t(caps.get("ambient"))) if caps is not None else None,
        no_new_privileges=bool(p.get("noNewPrivileges", False)),
        oom_score_adj=p.get("oomScoreAdj"),
        scheduler=Scheduler(policy=sched["policy"], nice=sched.get("nice"),
                            priority=sched.get("priority"), flags=_t(sched.get("flags")),
                            runtime=sched.get("runtime"), deadline=sched.get("deadline"),
                            period=sched.get("period")) if sched else None,
        selinux_label=p.get("selinuxLabel"),
        io_priority=IOPriority(io_class=iop["class"], priority=iop.get("priority", 0))
        if iop else None,
        exec_cpu_affinity=CPUAffinity(initial=aff.get("initial"), final=aff.get("final"))
        if aff else None,
        user=User(uid=u.get("uid", 0), gid=u.get("gid", 0), umask=u.get("umask"),
                  additional_gids=_t(u.get("additionalGids")) or (),
                  username=u.get("username")),
    )


def _seccomp(s):
    if s is None:
        return None
    return Seccomp(
        default_action=s["defaultAction"],
        default_errno_ret=s.get("defaultErrnoRet"),
        architectures=_t(s.get("architectures")) or (),
        flags=_t(s.get("flags")),          # None: absent (see seccomp._flags)
        listener_path=s.get("listenerPath"),
        listener_metadata=s.get("listenerMetadata"),
        syscalls=tuple(SeccompSyscall(
            names=tuple(sc["names"]), action=sc["action"], errno_ret=sc.get("errnoRet"),
            args=tuple(SeccompArg(index=a["index"], value=a["value"],
                                  value_two=a.get("valueTwo", 0), op=a["op"])
                       for a in sc.get("args") or ()))
            for sc in s.get("syscalls") or ()),
    )


def build_linux(lx):
    if lx is None:
        return None
    from pyrunc.config.resources import parse_resources
    to = lx.get("timeOffsets")
    pers = lx.get("personality")
    rdt = lx.get("intelRdt")
    mp = lx.get("memoryPolicy")
    return Linux(
        namespaces=tuple(Namespace(type=n["type"], path=n.get("path") or None)
                         for n in lx.get("namespaces") or ()),
        uid_mappings=_idmaps(lx.get("uidMappings")) or (),
        gid_mappings=_idmaps(lx.get("gidMappings")) or (),
        time_offsets=frozen({k: TimeOffset(secs=v.get("secs", 0), nanosecs=v.get("nanosecs", 0))
                             for k, v in to.items()}) if to else None,
        devices=tuple(Device(type=d["type"], path=d["path"], major=d.get("major"),
                             minor=d.get("minor"), file_mode=d.get("fileMode"),
                             uid=d.get("uid"), gid=d.get("gid"))
                      for d in lx.get("devices") or ()),
        net_devices=frozen({k: NetDevice(name=v.get("name")) for k, v in
                            (lx.get("netDevices") or {}).items()}),
        cgroups_path=lx.get("cgroupsPath") or None,
        resources=parse_resources(lx.get("resources")),
        rootfs_propagation=lx.get("rootfsPropagation") or None,
        seccomp=_seccomp(lx.get("seccomp")),
        sysctl=frozen(lx.get("sysctl")),
        masked_paths=_t(lx.get("maskedPaths")) or (),
        readonly_paths=_t(lx.get("readonlyPaths")) or (),
        mount_label=lx.get("mountLabel") or None,
        personality=Personality(domain=pers["domain"], flags=_t(pers.get("flags")) or ())
        if pers else None,
        intel_rdt=IntelRdt(clos_id=rdt.get("closID"), l3_cache_schema=rdt.get("l3CacheSchema"),
                           mem_bw_schema=rdt.get("memBwSchema"), schemata=_t(rdt.get("schemata")),
                           enable_monitoring=rdt.get("enableMonitoring")) if rdt else None,
        memory_policy=MemoryPolicy(mode=mp["mode"], nodes=mp.get("nodes"),
                                   flags=_t(mp.get("flags")) or ()) if mp else None,
    )


def build(doc):
    """config.json document (already schema-valid) -> Config."""
    root = doc.get("root")
    hooks = doc.get("hooks") or {}
    return Config(
        oci_version=doc["ociVersion"],
        root=Root(path=root["path"], readonly=bool(root.get("readonly", False))) if root else None,
        mounts=tuple(Mount(destination=m["destination"], source=m.get("source"),
                           type=m.get("type"), options=_t(m.get("options")) or (),
                           uid_mappings=_idmaps(m.get("uidMappings")),
                           gid_mappings=_idmaps(m.get("gidMappings")))
                     for m in doc.get("mounts") or ()),
        process=build_process(doc.get("process")),
        hostname=doc.get("hostname"),
        domainname=doc.get("domainname"),
        hooks=Hooks(prestart=_hooks(hooks.get("prestart")),
                    create_runtime=_hooks(hooks.get("createRuntime")),
                    create_container=_hooks(hooks.get("createContainer")),
                    start_container=_hooks(hooks.get("startContainer")),
                    poststart=_hooks(hooks.get("poststart")),
                    poststop=_hooks(hooks.get("poststop"))),
        annotations=frozen(doc.get("annotations")),
        linux=build_linux(doc.get("linux")),
    )
