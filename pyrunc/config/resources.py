"""Typed, immutable model of ``linux.resources`` and of ``update --resources``.

``parse_resources(d)`` turns an already schema-validated dict (camelCase
JSON as in config.json) into a ``Resources`` tree of ``Struct`` records with
snake_case fields.  Absent JSON members are ``None``; lists become tuples and
maps become frozen dicts, so every record is immutable and hashable.

``resources_to_dict(r)`` is the inverse (camelCase, absent fields omitted),
used to store the current resources in the state dir.

``merge_update(current, update)`` implements ``runc update`` semantics: a
field that is absent, ``None`` or ``0`` in the update means "not set, keep the
current value" (docker sends ``"kernel":0,"reservation":0,"quota":0,
"period":0,"blockIO":{"weight":0}``).  Fields for which 0 is a meaningful
value (``swappiness``, ``idle``, booleans) are only kept when absent.
Non-empty lists in the update replace the current list; ``unified`` and
``rdma`` maps are merged key by key.
"""

from pyrunc.config.struct import Struct, frozen


class Memory(Struct):
    __slots__ = ("limit", "reservation", "swap", "kernel", "kernel_tcp",
                 "swappiness", "disable_oom_killer", "use_hierarchy",
                 "check_before_update")


class CPU(Struct):
    __slots__ = ("shares", "quota", "burst", "period", "realtime_runtime",
                 "realtime_period", "cpus", "mems", "idle")


class Pids(Struct):
    __slots__ = ("limit",)


class WeightDevice(Struct):
    __slots__ = ("major", "minor", "weight", "leaf_weight")


class ThrottleDevice(Struct):
    __slots__ = ("major", "minor", "rate")


class BlockIO(Struct):
    __slots__ = ("weight", "leaf_weight", "weight_device",
                 "throttle_read_bps_device", "throttle_write_bps_device",
                 "throttle_read_iops_device", "throttle_write_iops_device")


class HugepageLimit(Struct):
    __slots__ = ("page_size", "limit")


class NetPriority(Struct):
    __slots__ = ("name", "priority")


class Network(Struct):
    __slots__ = ("class_id", "priorities")


class DeviceRule(Struct):
    """One device-cgroup rule.  ``type`` None means 'a'; ``major``/``minor``
    None mean the wildcard '*'; ``access`` None means 'rwm'."""
    __slots__ = ("allow", "type", "major", "minor", "access")


class RdmaLimit(Struct):
    __slots__ = ("hca_handles", "hca_objects")


class Resources(Struct):
    __slots__ = ("devices", "memory", "cpu", "pids", "block_io",
                 "hugepage_limits", "network", "rdma", "unified")


# (json name, field name) tables; the order is the JSON order used on output.
_MEMORY = (("limit", "limit"), ("reservation", "reservation"), ("swap", "swap"),
           ("kernel", "kernel"), ("kernelTCP", "kernel_tcp"),
           ("swappiness", "swappiness"), ("disableOOMKiller", "disable_oom_killer"),
           ("useHierarchy", "use_hierarchy"), ("checkBeforeUpdate", "check_before_update"))
_CPU = (("shares", "shares"), ("quota", "quota"), ("burst", "burst"),
        ("period", "period"), ("realtimeRuntime", "realtime_runtime"),
        ("realtimePeriod", "realtime_period"), ("cpus", "cpus"), ("mems", "mems"),
        ("idle", "idle"))
_WEIGHT_DEV = (("major", "major"), ("minor", "minor"), ("weight", "weight"),
               ("leafWeight", "leaf_weight"))
_THROTTLE_DEV = (("major", "major"), ("minor", "minor"), ("rate", "rate"))
_THROTTLES = (("throttleReadBpsDevice", "throttle_read_bps_device"),
              ("throttleWriteBpsDevice", "throttle_write_bps_device"),
              ("throttleReadIOPSDevice", "throttle_read_iops_device"),
              ("throttleWriteIOPSDevice", "throttle_write_iops_device"))
_DEVICE = (("allow", "allow"), ("type", "type"), ("major", "major"),
           ("minor", "minor"), ("access", "access"))


def _rec(cls, table, d):
    return cls(**{f: d.get(j) for j, f in table if d.get(j) is not None})


def _tuple(cls, table, items):
    if items is None:
        return None
    return tuple(_rec(cls, table, i) for i in items)


def parse_resources(d):
    """``linux.resources`` dict (schema-validated) -> ``Resources`` or None."""
    if d is None:
        return None
    kw = {}
    if d.get("devices") is not None:
        kw["devices"] = _tuple(DeviceRule, _DEVICE, d["devices"])
    if d.get("memory") is not None:
        kw["memory"] = _rec(Memory, _MEMORY, d["memory"])
    if d.get("cpu") is not None:
        kw["cpu"] = _rec(CPU, _CPU, d["cpu"])
    if d.get("pids") is not None:
        kw["pids"] = Pids(limit=d["pids"].get("limit"))
    b = d.get("blockIO")
    if b is not None:
        bkw = {"weight": b.get("weight"), "leaf_weight": b.get("leafWeight"),
               "weight_device": _tuple(WeightDevice, _WEIGHT_DEV, b.get("weightDevice"))}
        for j, f in _THROTTLES:
            bkw[f] = _tuple(ThrottleDevice, _THROTTLE_DEV, b.get(j))
        kw["block_io"] = BlockIO(**bkw)
    if d.get("hugepageLimits") is not None:
        kw["hugepage_limits"] = tuple(
            HugepageLimit(page_size=h.get("pageSize"), limit=h.get("limit"))
            for h in d["hugepageLimits"])
    n = d.get("network")
    if n is not None:
        prios = n.get("priorities")
        kw["network"] = Network(
            class_id=n.get("classID"),
            priorities=None if prios is None else tuple(
                NetPriority(name=p.get("name"), priority=p.get("priority")) for p in prios))
    if d.get("rdma") is not None:
        kw["rdma"] = frozen({k: RdmaLimit(hca_handles=v.get("hcaHandles"),
                                          hca_objects=v.get("hcaObjects"))
                             for k, v in d["rdma"].items()})
    if d.get("unified") is not None:
        kw["unified"] = frozen(d["unified"])
    return Resources(**kw)


def _undo(rec, table):
    return {j: getattr(rec, f) for j, f in table if getattr(rec, f) is not None}


def resources_to_dict(r):
    """Inverse of ``parse_resources``: camelCase dict, absent fields omitted."""
    if r is None:
        return None
    out = {}
    if r.devices is not None:
        out["devices"] = [_undo(x, _DEVICE) for x in r.devices]
    if r.memory is not None:
        out["memory"] = _undo(r.memory, _MEMORY)
    if r.cpu is not None:
        out["cpu"] = _undo(r.cpu, _CPU)
    if r.pids is not None:
        out["pids"] = {} if r.pids.limit is None else {"limit": r.pids.limit}
    b = r.block_io
    if b is not None:
        bd = {}
        if b.weight is not None:
            bd["weight"] = b.weight
        if b.leaf_weight is not None:
            bd["leafWeight"] = b.leaf_weight
        if b.weight_device is not None:
            bd["weightDevice"] = [_undo(x, _WEIGHT_DEV) for x in b.weight_device]
        for j, f in _THROTTLES:
            v = getattr(b, f)
            if v is not None:
                bd[j] = [_undo(x, _THROTTLE_DEV) for x in v]
        out["blockIO"] = bd
    if r.hugepage_limits is not None:
        out["hugepageLimits"] = [{"pageSize": h.page_size, "limit": h.limit}
                                 for h in r.hugepage_limits]
    n = r.network
    if n is not None:
        nd = {}
        if n.class_id is not None:
            nd["classID"] = n.class_id
        if n.priorities is not None:
            nd["priorities"] = [{"name": p.name, "priority": p.priority}
                                for p in n.priorities]
        out["network"] = nd
    if r.rdma is not None:
        out["rdma"] = {k: _undo(v, (("hcaHandles", "hca_handles"),
                                    ("hcaObjects", "hca_objects")))
                       for k, v in r.rdma.items()}
    if r.unified is not None:
        out["unified"] = dict(r.unified)
    return out


# --- runc update semantics -------------------------------------------------

# Fields where 0 is a real value: only None means "keep".
_ZERO_IS_VALUE = frozenset(("swappiness", "idle", "disable_oom_killer",
                            "use_hierarchy", "check_before_update", "allow",
                            "burst"))       # `update --cpu-burst 0` turns it off (runc)


def _set(name, v):
    if v is None:
        return False
    if name in _ZERO_IS_VALUE:
        return True
    if v == 0 and not isinstance(v, bool):
        return False
    if v == "" or v == ():
        return False
    return True


def _merge_rec(cls, cur, upd):
    if upd is None:
        return cur
    if cur is None:
        cur = cls()
    kw = {}
    for name in cls.__slots__:
        u = getattr(upd, name)
        kw[name] = u if _set(name, u) else getattr(cur, name)
    return cls(**kw)


def _merge_map(cur, upd):
    if not upd:
        return cur
    m = dict(cur or {})
    m.update(upd)
    return frozen(m)


def merge_update(current, update):
    """Apply an ``update --resources`` payload on top of the current resources."""
    if current is None:
        current = Resources()
    if update is None:
        return current
    b = current.block_io
    if update.block_io is not None:
        b = _merge_rec(BlockIO, b, update.block_io)
    pids = current.pids
    if update.pids is not None and _set("limit", update.pids.limit):
        pids = update.pids
    net = current.network
    if update.network is not None:
        net = _merge_rec(Network, net, update.network)
    return Resources(
        devices=update.devices if update.devices else current.devices,
        memory=_merge_rec(Memory, current.memory, update.memory),
        cpu=_merge_rec(CPU, current.cpu, update.cpu),
        pids=pids,
        block_io=b,
        hugepage_limits=(update.hugepage_limits if update.hugepage_limits
                         else current.hugepage_limits),
        network=net,
        rdma=_merge_map(current.rdma, update.rdma),
        unified=_merge_map(current.unified, update.unified),
    )


def only_set(update):
    """The update with its "not set" (0/empty) fields turned into None, i.e.
    exactly what ``Manager.update`` should write.  Useful when the current
    resources are unknown."""
    return merge_update(Resources(), update)
