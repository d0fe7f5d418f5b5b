"""update: change the cgroup limits of a created, running or paused
container (runc's `update`).

The new resources come either from `--resources FILE|-` (a LinuxResources
JSON document, validated against the schema) or from runc's flags. In
both, 0 or an absent field means "not set: keep the current value". The
update is merged (config.resources.merge_update) with the container's
current resources -- the merged result of the previous update, stored in
the state as data["resources"], or else linux.resources of the config that
create stored -- and the merged record is saved for the next update. The
cgroup gets what the update sets (resources.only_set, Manager.update,
device rules untouched): runc writes only the non-zero fields too, and the
driver pairs memory and swap against the cgroup's current values. Kernel
memory settings are ignored with a warning, as in runc 1.1.
"""
import os

from pyrunc.errors import PyruncError

# flag dest -> (section, json field, kind); kind: "mem" (k/m/g suffixes and
# -1), "uint", "int", "str"
FLAG_FIELDS = (
    ("memory", "memory", "limit", "mem"),
    ("memory_reservation", "memory", "reservation", "mem"),
    ("memory_swap", "memory", "swap", "mem"),
    ("kernel_memory", "memory", "kernel", "mem"),
    ("kernel_memory_tcp", "memory", "kernelTCP", "mem"),
    ("cpu_shares", "cpu", "shares", "uint"),
    ("cpu_quota", "cpu", "quota", "int"),
    ("cpu_period", "cpu", "period", "uint"),
    ("cpu_burst", "cpu", "burst", "uint"),
    ("cpu_rt_period", "cpu", "realtimePeriod", "uint"),
    ("cpu_rt_runtime", "cpu", "realtimeRuntime", "int"),
    ("cpuset_cpus", "cpu", "cpus", "str"),
    ("cpuset_mems", "cpu", "mems", "str"),
    ("cpu_idle", "cpu", "idle", "int"),
    ("pids_limit", "pids", "limit", "int"),
    ("blkio_weight", "blockIO", "weight", "uint"),
)

_BINARY = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(s):
    """docker/go-units RAMInBytes: '512', '64k', '128m', '1.5g', '1GiB', '2 MB'
    (binary multiples, case-insensitive)."""
    t = s
    if t[-1:] in ("b", "B"):
        t = t[:-1]
    if t[-1:] in ("i", "I"):
        t = t[:-1]
    unit = ""
    if t[-1:] and t[-1].lower() in "kmgtp":
        unit = t[-1].lower()
        t = t[:-1]
    if t.endswith(" "):
        t = t[:-1]
    parts = t.split(".")
    if not t or len(parts) > 2 or not all(p and p.isascii() and p.isdigit() for p in parts):
        raise ValueError("invalid size: '%s'" % s)
    return int(float(t) * _BINARY[unit])


def _flag_value(name, kind, val):
    opt = name.replace("_", "-")
    try:
        if kind == "str":
            return val
        if kind == "mem":
            return -1 if val == "-1" else ram_in_bytes(val)
        if not val.lstrip("-").isdigit() or not val.isascii() or (kind == "uint" and val[0] == "-"):
            raise ValueError('parsing "%s": invalid syntax' % val)
        return int(val)
    except ValueError as e:
        raise PyruncError("invalid value for %s: %s" % (opt, e)) from None


def resources_from_flags(opts):
    """The update document (camelCase JSON) that runc's flags describe."""
    doc = {}
    for dest, section, field, kind in FLAG_FIELDS:
        val = opts.get(dest)
        if val is None or val == "":
            continue
        doc.setdefault(section, {})[field] = _flag_value(dest, kind, val)
    for dest in ("l3_cache_schema", "mem_bw_schema"):
        if opts.get(dest):
            raise PyruncError("Intel RDT is not supported by pyrunc (--%s)"
                              % dest.replace("_", "-"))
    return doc


def read_resources(path):
    """A LinuxResources document from a file or, for '-', stdin; validated."""
    from pyrunc.config import read_document
    return read_document(path, "resources", "resources")


def _without_kmem(res):
    """res with memory.kernel/kernelTCP dropped (runc 1.1 ignores them)."""
    from pyrunc.config.resources import Memory
    m = res.memory
    if m is None or (m.kernel is None and m.kernel_tcp is None):
        return res
    kw = {n: getattr(m, n) for n in Memory.__slots__ if n not in ("kernel", "kernel_tcp")}
    fields = {n: getattr(res, n) for n in type(res).__slots__}
    fields["memory"] = Memory(**kw)
    return type(res)(**fields)


def _unlimited_swap(upd, merged):
    """Record what the driver does for `memory.limit -1` without a swap
    value: swap becomes unlimited too."""
    um, mm = upd.memory, merged.memory
    if um is None or um.limit != -1 or um.swap or mm is None or not mm.swap:
        return merged
    from pyrunc.config.resources import Memory
    kw = {n: getattr(mm, n) for n in Memory.__slots__}
    kw["swap"] = -1
    fields = {n: getattr(merged, n) for n in type(merged).__slots__}
    fields["memory"] = Memory(**kw)
    return type(merged)(**fields)


def current_resources(c):
    """The container's resources now: the last update's, else the config's."""
    from pyrunc.config.resources import parse_resources
    stored = c.data.get("resources")
    if stored is not None:
        return parse_resources(stored)
    from pyrunc.lifecycle.common import stored_config
    try:
        config = stored_config(c)
    except OSError:
        return None
    lx = config.linux
    return lx.resources if lx is not None else None


def update(ctx, cid, doc=None, resources_path=None, warn=None):
    """Apply an update: doc (from flags) or the document at resources_path."""
    from pyrunc.config.resources import (merge_update, only_set, parse_resources,
                                         resources_to_dict)
    from pyrunc.lifecycle.common import cgroup_manager
    from pyrunc.lifecycle.pause import load_locked
    from pyrunc.linux.cgroups import CgroupError

    c, lock = load_locked(ctx, cid)
    try:
        if resources_path is not None:
            doc = read_resources(resources_path)
        if c.status() == "stopped":
            raise PyruncError("container not running")
        upd = parse_resources(doc or {})
        m = upd.memory
        if m is not None and (m.kernel or m.kernel_tcp) and warn is not None:
            warn("Kernel memory settings are ignored and will be removed")
        upd = _without_kmem(upd)
        merged = _unlimited_swap(upd, merge_update(current_resources(c), upd))
        mgr = cgroup_manager(c)
        if mgr is None:
            raise PyruncError("cannot update the container: it has no cgroup")
        try:
            # only what the update sets is written (as runc, whose cgroup
            # drivers skip the zero fields): the driver derives the rest
            # from the cgroup itself, e.g. memory -1 alone makes memsw -1
            # too, where the merged record would pair it with the old swap
            mgr.update(only_set(upd))
        except CgroupError as e:
            raise PyruncError("unable to set cgroup resources: %s" % e) from None
        finally:
            if warn is not None:
                for w in mgr.warnings:
                    warn(w)
        c.data["resources"] = resources_to_dict(merged)
        c.save()
    finally:
        os.close(lock)
