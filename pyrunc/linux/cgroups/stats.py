"""The ``data`` object of ``runc events --stats``.

Key names, nesting and "omitempty" behaviour follow runc 1.1.5's output
(shared/callers/runc-reference/events-stats.json): zero-valued fields that
runc tags ``omitempty`` are left out (e.g. blkio ``minor``/``value``, memory
``usage``/``max``, cpu throttling), the others are always present.
"""

import os

from pyrunc.linux.cgroups import CgroupError

MAX_U64 = 18446744073709551615


def _text(m, path):
    try:
        return m._read(path)
    except CgroupError:
        return None


def _int(m, path, default=0):
    t = _text(m, path)
    if t is None:
        return default
    t = t.strip()
    if t == "max":
        return MAX_U64
    try:
        return int(t)
    except ValueError:
        return default


def _flat(text):
    out = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def _ints(text):
    return [int(x) for x in (text or "").split()]


def _omit_zero(d):
    return {k: v for k, v in d.items() if v}


def parse_list(text):
    """'0-2,5' -> [0, 1, 2, 5]"""
    out = []
    for part in (text or "").strip().split(","):
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def _mem_entry(limit, usage, maxu, failcnt):
    e = {"limit": limit}
    if usage:
        e["usage"] = usage
    if maxu:
        e["max"] = maxu
    e["failcnt"] = failcnt
    return e


def _empty():
    return {"cpu": {"usage": {"kernel": 0, "user": 0}, "throttling": {}},
            "cpuset": _cpuset_scalars({}), "memory": {}, "pids": {}, "blkio": {},
            "hugetlb": {}, "intel_rdt": {}, "network_interfaces": None}


def _cpuset_scalars(vals):
    return {"cpu_exclusive": vals.get("cpu_exclusive", 0),
            "mem_hardwall": vals.get("mem_hardwall", 0),
            "mem_exclusive": vals.get("mem_exclusive", 0),
            "memory_migrate": vals.get("memory_migrate", 0),
            "memory_spread_page": vals.get("memory_spread_page", 0),
            "memory_spread_slab": vals.get("memory_spread_slab", 0),
            "memory_pressure": vals.get("memory_pressure", 0),
            "sched_load_balance": vals.get("sched_load_balance", 0),
            "sched_relax_domain_level": vals.get("sched_relax_domain_level", 0)}


def _cpuset(cpus, mems, scalars):
    out = {}
    if cpus:
        out["cpus"] = cpus
    out["cpu_exclusive"] = scalars["cpu_exclusive"]
    if mems:
        out["mems"] = mems
    for k in ("mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
              "memory_spread_slab", "memory_pressure", "sched_load_balance",
              "sched_relax_domain_level"):
        out[k] = scalars[k]
    return out


def _blkio_entries(text):
    out = []
    for line in (text or "").splitlines():
        f = line.split()
        if len(f) < 2 or ":" not in f[0]:
            continue                      # e.g. the "Total N" line
        major, minor = (int(x) for x in f[0].split(":", 1))
        e = {}
        if major:
            e["major"] = major
        if minor:
            e["minor"] = minor
        if len(f) == 3:
            e["op"] = f[1]
            v = int(f[2])
        else:
            v = int(f[1])
        if v:
            e["value"] = v
        out.append(e)
    return out


# --- cgroup v1 ---------------------------------------------------------------

def v1_stats(m):
    data = _empty()
    clk = os.sysconf("SC_CLK_TCK") or 100
    acct = m.ctl_dir("cpuacct")
    usage = {}
    if acct is not None:
        total = _int(m, acct + "/cpuacct.usage")
        if total:
            usage["total"] = total
        for key, f in (("percpu", "cpuacct.usage_percpu"),
                       ("percpu_kernel", "cpuacct.usage_percpu_sys"),
                       ("percpu_user", "cpuacct.usage_percpu_user")):
            v = _ints(_text(m, acct + "/" + f))
            if v:
                usage[key] = v
        st = _flat(_text(m, acct + "/cpuacct.stat"))
        usage["kernel"] = st.get("system", 0) * 1000000000 // clk
        usage["user"] = st.get("user", 0) * 1000000000 // clk
    else:
        usage = {"kernel": 0, "user": 0}
    throttling = {}
    cpu = m.ctl_dir("cpu")
    if cpu is not None:
        st = _flat(_text(m, cpu + "/cpu.stat"))
        throttling = _omit_zero({"periods": st.get("nr_periods", 0),
                                 "throttledPeriods": st.get("nr_throttled", 0),
                                 "throttledTime": st.get("throttled_time", 0)})
    data["cpu"] = {"usage": usage, "throttling": throttling}

    cs = m.ctl_dir("cpuset")
    if cs is not None:
        scal = {k: _int(m, cs + "/cpuset." + k)
                for k in ("cpu_exclusive", "mem_hardwall", "mem_exclusive",
                          "memory_migrate", "memory_spread_page", "memory_spread_slab",
                          "memory_pressure", "sched_load_balance",
                          "sched_relax_domain_level")}
        data["cpuset"] = _cpuset(parse_list(_text(m, cs + "/cpuset.cpus")),
                                 parse_list(_text(m, cs + "/cpuset.mems")),
                                 _cpuset_scalars(scal))

    md = m.ctl_dir("memory")
    if md is not None:
        raw = _flat(_text(m, md + "/memory.stat"))
        mem = {}
        if raw.get("cache"):
            mem["cache"] = raw["cache"]

        def entry(prefix):
            p = md + "/memory." + prefix
            return _mem_entry(_int(m, p + "limit_in_bytes"), _int(m, p + "usage_in_bytes"),
                              _int(m, p + "max_usage_in_bytes"), _int(m, p + "failcnt"))
        mem["usage"] = entry("")
        mem["swap"] = entry("memsw.")
        mem["kernel"] = entry("kmem.")
        mem["kernelTCP"] = entry("kmem.tcp.")
        if raw:
            mem["raw"] = raw
        data["memory"] = mem

    pd = m.ctl_dir("pids")
    if pd is not None:
        lim = _int(m, pd + "/pids.max")
        data["pids"] = _omit_zero({"current": _int(m, pd + "/pids.current"),
                                   "limit": 0 if lim == MAX_U64 else lim})

    bd = m.ctl_dir("blkio")
    if bd is not None:
        data["blkio"] = _blkio_v1(m, bd)

    hd = m.ctl_dir("hugetlb")
    if hd is not None:
        data["hugetlb"] = _hugetlb_v1(m, hd)
    return data


_BLKIO_KEYS = (("ioServiceBytesRecursive", "io_service_bytes_recursive"),
               ("ioServicedRecursive", "io_serviced_recursive"),
               ("ioQueueRecursive", "io_queued_recursive"),
               ("ioServiceTimeRecursive", "io_service_time_recursive"),
               ("ioWaitTimeRecursive", "io_wait_time_recursive"),
               ("ioMergedRecursive", "io_merged_recursive"),
               ("ioTimeRecursive", "time_recursive"),
               ("sectorsRecursive", "sectors_recursive"))


def _blkio_v1(m, bd):
    # CFQ files first, then BFQ, then the throttle counters (as runc)
    for prefix in ("blkio.", "blkio.bfq."):
        if m._exists(bd + "/" + prefix + "io_serviced_recursive"):
            out = {}
            for key, f in _BLKIO_KEYS:
                e = _blkio_entries(_text(m, bd + "/" + prefix + f))
                if e:
                    out[key] = e
            return out
    out = {}
    for key, f in _BLKIO_KEYS[:2]:
        e = _blkio_entries(_text(m, bd + "/blkio.throttle." + f))
        if e:
            out[key] = e
    return out


def _page_sizes(m, d, suffix):
    try:
        names = os.listdir(d)
    except OSError:
        return []
    out = []
    for n in names:
        if n.startswith("hugetlb.") and n.endswith(suffix) and ".rsvd." not in n:
            out.append(n[len("hugetlb."):-len(suffix)])
    return sorted(out)


def _hugetlb_v1(m, d):
    out = {}
    for size in _page_sizes(m, d, ".limit_in_bytes"):
        p = d + "/hugetlb." + size + "."
        e = {}
        u, mx = _int(m, p + "usage_in_bytes"), _int(m, p + "max_usage_in_bytes")
        if u:
            e["usage"] = u
        if mx:
            e["max"] = mx
        e["failcnt"] = _int(m, p + "failcnt")
        out[size] = e
    return out


def hugetlb_v2(m, d):
    out = {}
    for size in _page_sizes(m, d, ".max"):
        p = d + "/hugetlb." + size + "."
        e = {}
        u = _int(m, p + "current")
        if u:
            e["usage"] = u
        e["failcnt"] = _flat(_text(m, p + "events")).get("max", 0)
        out[size] = e
    return out


# --- cgroup v2 ---------------------------------------------------------------

def v2_stats(m):
    d = m.dir("")
    data = _empty()
    st = _flat(_text(m, d + "/cpu.stat"))
    usage = {}
    if st.get("usage_usec"):
        usage["total"] = st["usage_usec"] * 1000
    usage["kernel"] = st.get("system_usec", 0) * 1000
    usage["user"] = st.get("user_usec", 0) * 1000
    data["cpu"] = {"usage": usage, "throttling": _omit_zero({
        "periods": st.get("nr_periods", 0),
        "throttledPeriods": st.get("nr_throttled", 0),
        "throttledTime": st.get("throttled_usec", 0) * 1000})}

    if m._exists(d + "/cpuset.cpus.effective"):
        data["cpuset"] = _cpuset(parse_list(_text(m, d + "/cpuset.cpus.effective")),
                                 parse_list(_text(m, d + "/cpuset.mems.effective")),
                                 _cpuset_scalars({}))

    if m._exists(d + "/memory.current"):
        raw = _flat(_text(m, d + "/memory.stat"))
        events = _flat(_text(m, d + "/memory.events"))
        usage_b = _int(m, d + "/memory.current")
        limit = _int(m, d + "/memory.max", MAX_U64)
        mem = {}
        if raw.get("file"):
            mem["cache"] = raw["file"]
        mem["usage"] = _mem_entry(limit, usage_b, _int(m, d + "/memory.peak"),
                                  events.get("max", 0))
        if m._exists(d + "/memory.swap.current"):
            swap_lim = _int(m, d + "/memory.swap.max", MAX_U64)
            if swap_lim != MAX_U64 and limit != MAX_U64:
                swap_lim += limit
            else:
                swap_lim = MAX_U64
            sev = _flat(_text(m, d + "/memory.swap.events"))
            mem["swap"] = _mem_entry(swap_lim, _int(m, d + "/memory.swap.current") + usage_b,
                                     _int(m, d + "/memory.swap.peak"), sev.get("max", 0))
        else:
            mem["swap"] = _mem_entry(0, 0, 0, 0)
        mem["kernel"] = _mem_entry(0, 0, 0, 0)
        mem["kernelTCP"] = _mem_entry(0, 0, 0, 0)
        if raw:
            mem["raw"] = raw
        data["memory"] = mem

    if m._exists(d + "/pids.current"):
        lim = _int(m, d + "/pids.max")
        data["pids"] = _omit_zero({"current": _int(m, d + "/pids.current"),
                                   "limit": 0 if lim == MAX_U64 else lim})

    if m._exists(d + "/io.stat"):
        sb, sv = [], []
        for line in (_text(m, d + "/io.stat") or "").splitlines():
            f = line.split()
            if not f or ":" not in f[0]:
                continue
            major, minor = (int(x) for x in f[0].split(":", 1))
            kv = {}
            for item in f[1:]:
                k, _, v = item.partition("=")
                try:
                    kv[k] = int(v)
                except ValueError:
                    pass
            for lst, rk, wk in ((sb, "rbytes", "wbytes"), (sv, "rios", "wios")):
                for op, k in (("Read", rk), ("Write", wk)):
                    e = {}
                    if major:
                        e["major"] = major
                    if minor:
                        e["minor"] = minor
                    e["op"] = op
                    if kv.get(k):
                        e["value"] = kv[k]
                    lst.append(e)
        blk = {}
        if sb:
            blk["ioServiceBytesRecursive"] = sb
        if sv:
            blk["ioServicedRecursive"] = sv
        data["blkio"] = blk

    data["hugetlb"] = hugetlb_v2(m, d)
    return data
