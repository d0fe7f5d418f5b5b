"""cgroup v2 (unified) driver.

``create`` enables, in ``cgroup.subtree_control`` of every ancestor, all the
controllers listed in its ``cgroup.controllers`` (failures per controller are
ignored, as runc does); ``apply`` then errors for any controller that the
container's ``cgroup.controllers`` lacks.

v1-style fields are converted:
  memory.limit -> memory.max ("max" for -1); reservation -> memory.low;
  swap -> memory.swap.max = swap - limit (-1 -> "max"; an unlimited limit
  with no swap gives "max"; swap without a limit is an error);
  checkBeforeUpdate -> error when the new limit is below memory.current;
  kernel, kernelTCP, swappiness, disableOOMKiller: no v2 file (warning).
  cpu.shares -> cpu.weight = 1 + ((shares - 2) * 9999) // 262142;
  quota/period -> cpu.max "<quota|max> [<period>]"; burst -> cpu.max.burst;
  idle -> cpu.idle; realtime*: no v2 file (warning).
  cpus/mems -> cpuset.cpus/cpuset.mems.  pids.limit -> pids.max.
  blockIO.weight -> io.bfq.weight (same scale) or else io.weight =
  1 + ((weight - 10) * 9999) // 990; weightDevice likewise per device;
  throttle* -> io.max "MAJ:MIN rbps=|wbps=|riops=|wiops=N"; leafWeight:
  warning.  hugepageLimits -> hugetlb.<size>.max (+ .rsvd.max).
  rdma -> rdma.max.  network: error (no net_cls/net_prio on v2).
  devices -> an eBPF BPF_PROG_TYPE_CGROUP_DEVICE program (devices.py).
  unified: each key written raw, after the converted fields; the controller
  (the key's prefix) must be available, the file must exist.
"""

import os

from pyrunc.linux.cgroups import Manager, CgroupError, resolve_path, flat_key


def _i(v):
    return str(int(v))


def _max(v):
    return "max" if v < 0 else _i(v)


def shares_to_weight(shares):
    if shares <= 2:
        return 1
    if shares >= 262144:
        return 10000
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_weight_to_io(weight):
    if weight <= 10:
        return 1
    if weight >= 1000:
        return 10000
    return 1 + ((weight - 10) * 9999) // 990


def swap_to_v2(swap, limit):
    """memory.swap.max value for OCI swap (memory+swap) and limit, or None."""
    swap = swap or 0
    limit = limit or 0
    if limit == -1 and swap == 0:
        return "max"
    if swap == 0:
        return None
    if swap == -1:
        return "max"
    if limit == 0 or limit == -1:
        raise CgroupError("unable to set a swap limit without a memory limit")
    if swap < limit:
        raise CgroupError("memory+swap limit (%d) must be >= memory limit (%d)"
                          % (swap, limit))
    return _i(swap - limit)


def unified_controller(key):
    """The controller a ``unified`` key needs, None for core cgroup.* files."""
    if "/" in key or key.startswith(".") or "." not in key:
        raise CgroupError("invalid linux.resources.unified key %r" % key)
    ctl = key.split(".", 1)[0]
    return None if ctl == "cgroup" else ctl


def write_unified(m, d, unified, avail):
    for key, value in unified.items():
        ctl = unified_controller(key)
        if ctl is not None and ctl not in avail:
            raise CgroupError("linux.resources.unified[%r]: the %s cgroup "
                              "controller is not available" % (key, ctl))
        p = d + "/" + key
        if not m._exists(p):
            raise CgroupError("linux.resources.unified[%r]: %s does not exist"
                              % (key, p))
        m._write(p, value)


def write_hugetlb(m, d, limits):
    for h in limits:
        f = d + "/hugetlb.%s.max" % h.page_size
        if not m._exists(f):
            raise CgroupError("invalid hugepage size %r: %s does not exist"
                              % (h.page_size, os.path.basename(f)))
        m._write(f, _i(h.limit))
        rsvd = d + "/hugetlb.%s.rsvd.max" % h.page_size
        if m._exists(rsvd):
            m._write(rsvd, _i(h.limit))


class V2Manager(Manager):
    kind = "v2"

    @classmethod
    def new(cls, root, cgroups_path, container_id, own, explicit):
        return cls(root, {"": resolve_path(cgroups_path, container_id, [""], own)},
                   container_id, (), explicit)

    def _before_child(self, key, parent):
        # enable every controller the parent has for its children
        ctrls = self._read(parent + "/cgroup.controllers").split()
        have = set(self._read(parent + "/cgroup.subtree_control").split())
        todo = [c for c in ctrls if c not in have]
        if not todo:
            return
        try:
            self._write(parent + "/cgroup.subtree_control",
                        " ".join("+" + c for c in todo))
        except CgroupError:
            for c in todo:
                try:
                    self._write(parent + "/cgroup.subtree_control", "+" + c)
                except CgroupError:
                    pass

    # -- apply --------------------------------------------------------------
    def _apply(self, res, devices, default_devices):
        d = self.dir("")
        avail = set(self._read(d + "/cgroup.controllers").split())

        def need(ctl, what):
            if ctl not in avail:
                raise CgroupError("%s needs the %s cgroup controller, which is "
                                  "not available in %s" % (what, ctl, d))
        if devices:
            rules = list(getattr(res, "devices", None) or ())
            from pyrunc.linux.cgroups import devices as dv
            if default_devices:
                rules += list(dv.DEFAULT_RULES)
            if self.dry:
                self.trace.append((d + " [eBPF device program, %d instructions]"
                                   % (len(dv.build_program(rules)) // 8),
                                   "; ".join(dv.describe(rules))))
            else:
                dv.attach_program(d, rules)
        if res is None:
            return
        if res.memory is not None:
            self._memory(d, res.memory, need)
        if res.cpu is not None:
            self._cpu(d, res.cpu, need)
        if res.pids is not None and res.pids.limit is not None:
            need("pids", "linux.resources.pids")
            self._write(d + "/pids.max", _max(res.pids.limit))
        if res.block_io is not None:
            self._io(d, res.block_io, need)
        if res.hugepage_limits:
            need("hugetlb", "linux.resources.hugepageLimits")
            write_hugetlb(self, d, res.hugepage_limits)
        n = res.network
        if n is not None and (n.class_id is not None or n.priorities):
            raise CgroupError("linux.resources.network needs the net_cls/net_prio "
                              "controllers, which cgroup v2 does not have")
        if res.rdma:
            need("rdma", "linux.resources.rdma")
            for dev, lim in res.rdma.items():
                parts = [dev]
                if lim.hca_handles is not None:
                    parts.append("hca_handle=%d" % lim.hca_handles)
                if lim.hca_objects is not None:
                    parts.append("hca_object=%d" % lim.hca_objects)
                self._write(d + "/rdma.max", " ".join(parts))
        if res.unified:
            write_unified(self, d, res.unified, avail)

    def _memory(self, d, m, need):
        limit = m.limit or 0
        swap_v = swap_to_v2(m.swap, m.limit)
        if limit or swap_v is not None or m.reservation:
            need("memory", "linux.resources.memory")
        if swap_v is not None:
            f = d + "/memory.swap.max"
            if self._exists(f):
                self._write(f, swap_v)
            elif m.swap and m.swap != -1:
                raise CgroupError("linux.resources.memory.swap is set but swap "
                                  "accounting (memory.swap.max) is not enabled")
        if limit:
            if m.check_before_update and limit > 0:
                cur = int(self._read(d + "/memory.current").strip())
                if cur > limit:
                    raise CgroupError("memory limit %d is below the current usage %d"
                                      % (limit, cur))
            self._write(d + "/memory.max", _max(limit))
        if m.reservation:
            self._write(d + "/memory.low", _max(m.reservation))
        for name, v in (("kernel memory limit", m.kernel),
                        ("kernel TCP memory limit", m.kernel_tcp),
                        ("memory swappiness", m.swappiness),
                        ("disableOOMKiller", m.disable_oom_killer)):
            if v:
                self.warnings.append("%s is not supported on cgroup v2: ignored" % name)

    def _cpu(self, d, c, need):
        if c.shares:
            need("cpu", "linux.resources.cpu.shares")
            self._write(d + "/cpu.weight", str(shares_to_weight(c.shares)))
        if c.quota or c.period:
            need("cpu", "linux.resources.cpu.quota/period")
            s = _i(c.quota) if c.quota and c.quota > 0 else "max"
            if c.period:
                s += " " + _i(c.period)
            self._write(d + "/cpu.max", s)
        if c.burst is not None:
            need("cpu", "linux.resources.cpu.burst")
            if self._exists(d + "/cpu.max.burst"):
                self._write(d + "/cpu.max.burst", _i(c.burst))
            elif c.burst:
                self.warnings.append("cpu burst is not supported by this kernel: ignored")
        if c.realtime_period or c.realtime_runtime:
            self.warnings.append("realtime cpu settings are not supported on "
                                 "cgroup v2: ignored")
        if c.idle is not None:
            if self._exists(d + "/cpu.idle"):
                self._write(d + "/cpu.idle", _i(c.idle))
            elif c.idle:
                self.warnings.append("cpu.idle is not supported here: ignored")
        if c.cpus or c.mems:
            need("cpuset", "linux.resources.cpu.cpus/mems")
            if c.cpus:
                self._write(d + "/cpuset.cpus", c.cpus)
            if c.mems:
                self._write(d + "/cpuset.mems", c.mems)

    def _io(self, d, b, need):
        bfq = d + "/io.bfq.weight"

        def weight_file():
            need("io", "linux.resources.blockIO")
            return (bfq, False) if self._exists(bfq) else (d + "/io.weight", True)
        if b.weight:
            f, conv = weight_file()
            self._write(f, str(blkio_weight_to_io(b.weight) if conv else b.weight))
        if b.leaf_weight:
            self.warnings.append("blockIO.leafWeight is not supported on cgroup v2: ignored")
        for wd in b.weight_device or ():
            if wd.weight:
                f, conv = weight_file()
                w = blkio_weight_to_io(wd.weight) if conv else wd.weight
                self._write(f, "%d:%d %d" % (wd.major, wd.minor, w))
            if wd.leaf_weight:
                self.warnings.append("blockIO leafWeight is not supported on cgroup v2: ignored")
        for attr, key in (("throttle_read_bps_device", "rbps"),
                          ("throttle_write_bps_device", "wbps"),
                          ("throttle_read_iops_device", "riops"),
                          ("throttle_write_iops_device", "wiops")):
            for t in getattr(b, attr) or ():
                need("io", "linux.resources.blockIO")
                self._write(d + "/io.max", "%d:%d %s=%d" % (t.major, t.minor, key, t.rate))

    # -- freezer ------------------------------------------------------------
    def _wait_frozen(self, want):
        import time
        ev = self.dir("") + "/cgroup.events"
        deadline = time.monotonic() + 10
        delay = 0.0005
        while flat_key(self._read(ev), "frozen") != want:
            if time.monotonic() > deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        return True

    def freeze(self):
        f = self.dir("") + "/cgroup.freeze"
        self._write(f, "1")
        if not self._wait_frozen(1):
            self._write(f, "0")
            raise CgroupError("unable to freeze the container: %s never "
                              "reported frozen" % (self.dir("") + "/cgroup.events"))

    def thaw(self):
        self._write(self.dir("") + "/cgroup.freeze", "0")
        self._wait_frozen(0)

    def freezer_file(self):
        return self.dir("") + "/cgroup.freeze"

    def frozen_effective(self):
        # cgroup.freeze is this cgroup's own setting; cgroup.events says
        # whether it is frozen, by itself or by an ancestor
        if self.frozen():
            return True
        f = self.dir("") + "/cgroup.events"
        return self._exists(f) and "frozen 1" in self._read(f).splitlines()

    def frozen(self):
        f = self.dir("") + "/cgroup.freeze"
        return self._exists(f) and self._read(f).strip() == "1"

    def kill_all(self, sig):
        import signal
        f = self.dir("") + "/cgroup.kill"
        if sig == signal.SIGKILL and self._exists(f):
            if os.path.isdir(self.dir("")):
                self._write(f, "1")
            return
        Manager.kill_all(self, sig)

    # -- stats --------------------------------------------------------------
    def stats(self):
        from pyrunc.linux.cgroups import stats
        return stats.v2_stats(self)

    def oom_count(self):
        f = self.dir("") + "/memory.events"
        if not self._exists(f):
            return 0
        return flat_key(self._read(f), "oom_kill")
