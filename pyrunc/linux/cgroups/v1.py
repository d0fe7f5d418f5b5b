"""cgroup v1 driver: one directory per mounted hierarchy.

Resource -> file mapping (all relative to the container's dir in the
hierarchy of the controller named first):
  memory: limit -> memory.limit_in_bytes, swap -> memory.memsw.limit_in_bytes
          (written before/after the limit so the kernel never sees
          memsw < limit), reservation -> memory.soft_limit_in_bytes,
          kernel -> memory.kmem.limit_in_bytes (if present), kernelTCP ->
          memory.kmem.tcp.limit_in_bytes, swappiness -> memory.swappiness,
          disableOOMKiller -> memory.oom_control, useHierarchy ->
          memory.use_hierarchy.  0 means "not set" (runc); -1 is unlimited.
  cpu:    shares -> cpu.shares, period/quota/burst -> cpu.cfs_{period,quota,
          burst}_us, realtime* -> cpu.rt_{period,runtime}_us, idle -> cpu.idle
          (rt, burst and idle only where the files exist, else a warning);
  cpuset: cpus/mems -> cpuset.cpus/cpuset.mems (new cpusets inherit the
          parent's values so tasks can join);
  pids:   limit -> pids.max (<0 -> "max", 0 is a real limit of 0);
  blkio:  weight -> blkio.weight or blkio.bfq.weight, leafWeight ->
          blkio.leaf_weight, weightDevice -> blkio[.bfq].weight_device /
          blkio.leaf_weight_device, throttle* -> blkio.throttle.*_device;
  hugetlb: hugetlb.<size>.limit_in_bytes (+ .rsvd.limit_in_bytes);
  network: classID -> net_cls.classid, priorities -> net_prio.ifpriomap;
  rdma:   rdma.max;
  devices: devices.deny "a", the config rules in order, then the defaults.
"""

import os

from pyrunc.linux.cgroups import Manager, CgroupError, resolve_path, flat_key

_PROCS_PREFERENCE = ("pids", "devices", "freezer", "memory", "name=systemd")


def hierarchies(root):
    """{dir name: frozenset(controllers)} of the v1 hierarchies under root."""
    try:
        names = sorted(os.listdir(root))
    except OSError as e:
        raise CgroupError("cannot list %s: %s" % (root, (e.strerror or "").lower())) from None
    out = {}
    for name in names:
        p = root + "/" + name
        if os.path.islink(p) or not os.path.isdir(p):
            continue
        if os.path.exists(p + "/cgroup.controllers"):      # a cgroup2 mount
            continue
        if not os.path.exists(p + "/cgroup.procs"):
            continue
        out[name] = controllers_of(name)
    return out


def controllers_of(key):
    return frozenset("name=systemd" if c == "systemd" else c for c in key.split(","))


def _i(v):
    return str(int(v))


class V1Manager(Manager):
    kind = "v1"

    @classmethod
    def new(cls, root, cgroups_path, container_id, own, explicit):
        h = hierarchies(root)
        if not h:
            raise CgroupError("no cgroup v1 hierarchy is mounted under %s" % root)
        paths = {k: resolve_path(cgroups_path, container_id, sorted(c), own)
                 for k, c in h.items()}
        return cls(root, paths, container_id, (), explicit)

    # -- controllers --------------------------------------------------------
    def v1_keys(self):
        return [k for k in self.paths if k != "unified"]

    def ctl_dir(self, ctl):
        for k in self.v1_keys():
            if ctl in controllers_of(k):
                return self.dir(k)
        return None

    def need(self, ctl, what):
        d = self.ctl_dir(ctl)
        if d is None:
            raise CgroupError("%s needs the %s cgroup controller, which is not "
                              "present on this host" % (what, ctl))
        return d

    def _procs_key(self):
        for ctl in _PROCS_PREFERENCE:
            for k in self.v1_keys():
                if ctl in controllers_of(k):
                    return k
        return self.v1_keys()[0]

    def _init_dir(self, key, path, parent):
        if key == "unified" or "cpuset" not in controllers_of(key):
            return
        for f in ("cpuset.cpus", "cpuset.mems"):
            p = path + "/" + f
            if os.path.exists(p) and not self._read(p).strip():
                self._write(p, self._read(parent + "/" + f).strip() or "\n")

    # -- apply --------------------------------------------------------------
    def _apply(self, res, devices, default_devices):
        cpu = getattr(res, "cpu", None)
        if cpu is not None:
            self._cpuset(cpu)
        if devices:
            self._devices(getattr(res, "devices", None), default_devices)
        if res is None:
            return
        if res.memory is not None:
            self._memory(res.memory)
        if cpu is not None:
            self._cpu(cpu)
        if res.pids is not None and res.pids.limit is not None:
            d = self.need("pids", "linux.resources.pids")
            lim = res.pids.limit
            self._write(d + "/pids.max", "max" if lim < 0 else _i(lim))
        if res.block_io is not None:
            self._blkio(res.block_io)
        if res.hugepage_limits:
            self._hugetlb(res.hugepage_limits)
        if res.network is not None:
            self._network(res.network)
        if res.rdma:
            self._rdma(res.rdma)
        if res.unified:
            self._unified(res.unified)

    def _devices(self, rules, default_devices):
        d = self.ctl_dir("devices")
        if d is None:
            if rules:
                self.need("devices", "linux.resources.devices")
            return
        from pyrunc.linux.cgroups import devices as dv
        for f, line in dv.v1_writes(rules, default_devices):
            self._write(d + "/" + f, line)

    def _memory(self, m):
        limit = m.limit or 0
        swap = m.swap or 0
        wants = (limit or swap or m.reservation or m.kernel or m.kernel_tcp
                 or m.swappiness is not None or m.disable_oom_killer
                 or m.use_hierarchy is not None)
        if not wants:
            return
        d = self.need("memory", "linux.resources.memory")
        lim_f, sw_f = d + "/memory.limit_in_bytes", d + "/memory.memsw.limit_in_bytes"
        have_sw = self._exists(sw_f)
        if limit == -1 and not swap and have_sw:
            swap = -1                   # unlimited memory: unlimited memsw too
        if swap and not have_sw:
            if m.swap:
                raise CgroupError("linux.resources.memory.swap is set but swap "
                                  "accounting (memory.memsw.*) is not enabled")
            swap = 0
        if limit and swap:
            cur = int(self._read(sw_f).strip())
            if swap == -1 or cur < swap:
                self._write(sw_f, _i(swap))
                self._write(lim_f, _i(limit))
            else:
                self._write(lim_f, _i(limit))
                self._write(sw_f, _i(swap))
        else:
            if limit:
                self._write(lim_f, _i(limit))
            if swap:
                self._write(sw_f, _i(swap))
        if m.reservation:
            self._write(d + "/memory.soft_limit_in_bytes", _i(m.reservation))
        if m.kernel:
            self._optional(d + "/memory.kmem.limit_in_bytes", m.kernel,
                           "kernel memory limit")
        if m.kernel_tcp:
            self._optional(d + "/memory.kmem.tcp.limit_in_bytes", m.kernel_tcp,
                           "kernel TCP memory limit")
        if m.swappiness is not None:
            if not 0 <= m.swappiness <= 100:
                raise CgroupError("invalid memory swappiness %d: must be 0..100"
                                  % m.swappiness)
            self._write(d + "/memory.swappiness", _i(m.swappiness))
        if m.disable_oom_killer:
            self._write(d + "/memory.oom_control", "1")
        if m.use_hierarchy is not None:
            p = d + "/memory.use_hierarchy"
            want = "1" if m.use_hierarchy else "0"
            if self._exists(p) and self._read(p).strip() != want:
                self._write(p, want)

    def _optional(self, path, value, what):
        if self._exists(path):
            self._write(path, _i(value))
        else:
            self.warnings.append("%s is not supported by this kernel (%s "
                                 "missing): ignored" % (what, os.path.basename(path)))

    def _cpuset(self, c):
        if not c.cpus and not c.mems:
            return
        d = self.need("cpuset", "linux.resources.cpu.cpus/mems")
        if c.cpus:
            self._write(d + "/cpuset.cpus", c.cpus)
        if c.mems:
            self._write(d + "/cpuset.mems", c.mems)

    def _cpu(self, c):
        if not (c.shares or c.quota or c.period or c.burst is not None
                or c.realtime_period or c.realtime_runtime or c.idle is not None):
            return
        d = self.need("cpu", "linux.resources.cpu")
        if c.shares:
            self._write(d + "/cpu.shares", _i(c.shares))
        seq = []
        if c.period:
            seq.append(("cpu.cfs_period_us", c.period))
        if c.quota:
            seq.append(("cpu.cfs_quota_us", c.quota))
        if c.burst is not None:
            if self._exists(d + "/cpu.cfs_burst_us"):
                seq.append(("cpu.cfs_burst_us", c.burst))
            elif c.burst:
                self.warnings.append("cpu burst is not supported by this kernel: ignored")
        try:
            for f, v in seq:
                self._write(d + "/" + f, _i(v))
        except CgroupError:
            # the kernel checks quota/period/burst against each other:
            # retry in the reverse order
            for f, v in reversed(seq):
                self._write(d + "/" + f, _i(v))
        rt = [(f, v) for f, v in (("cpu.rt_period_us", c.realtime_period),
                                  ("cpu.rt_runtime_us", c.realtime_runtime)) if v]
        try:
            for f, v in rt:
                self._optional(d + "/" + f, v, "realtime scheduling (%s)" % f)
        except CgroupError:
            # a runtime above the new period (or the other way round) is
            # refused: the other order (runc #4094)
            for f, v in reversed(rt):
                self._optional(d + "/" + f, v, "realtime scheduling (%s)" % f)
        if c.idle is not None:
            if self._exists(d + "/cpu.idle"):
                self._write(d + "/cpu.idle", _i(c.idle))
            elif c.idle:
                self.warnings.append("cpu.idle is not supported by this kernel: ignored")

    def _blkio(self, b):
        d = None

        def need():
            return d or self.need("blkio", "linux.resources.blockIO")

        def first(*names):
            for n in names:
                if self._exists(d + "/" + n):
                    return d + "/" + n
            raise CgroupError("linux.resources.blockIO: none of %s exists in %s "
                              "(no CFQ/BFQ weight support)" % (", ".join(names), d))
        if b.weight:
            d = need()
            self._write(first("blkio.weight", "blkio.bfq.weight"), _i(b.weight))
        if b.leaf_weight:
            d = need()
            self._write(first("blkio.leaf_weight"), _i(b.leaf_weight))
        for wd in b.weight_device or ():
            d = need()
            if wd.weight:
                self._write(first("blkio.weight_device", "blkio.bfq.weight_device"),
                            "%d:%d %d" % (wd.major, wd.minor, wd.weight))
            if wd.leaf_weight:
                self._write(first("blkio.leaf_weight_device"),
                            "%d:%d %d" % (wd.major, wd.minor, wd.leaf_weight))
        for attr, f in (("throttle_read_bps_device", "blkio.throttle.read_bps_device"),
                        ("throttle_write_bps_device", "blkio.throttle.write_bps_device"),
                        ("throttle_read_iops_device", "blkio.throttle.read_iops_device"),
                        ("throttle_write_iops_device", "blkio.throttle.write_iops_device")):
            for t in getattr(b, attr) or ():
                d = need()
                self._write(first(f), "%d:%d %d" % (t.major, t.minor, t.rate))

    def _hugetlb(self, limits):
        d = self.need("hugetlb", "linux.resources.hugepageLimits")
        for h in limits:
            f = d + "/hugetlb.%s.limit_in_bytes" % h.page_size
            if not self._exists(f):
                raise CgroupError("invalid hugepage size %r: %s does not exist"
                                  % (h.page_size, os.path.basename(f)))
            self._write(f, _i(h.limit))
            rsvd = d + "/hugetlb.%s.rsvd.limit_in_bytes" % h.page_size
            if self._exists(rsvd):
                self._write(rsvd, _i(h.limit))

    def _network(self, n):
        if n.class_id is not None:
            d = self.need("net_cls", "linux.resources.network.classID")
            self._write(d + "/net_cls.classid", _i(n.class_id))
        if n.priorities:
            d = self.need("net_prio", "linux.resources.network.priorities")
            for p in n.priorities:
                self._write(d + "/net_prio.ifpriomap", "%s %d" % (p.name, p.priority))

    def _rdma(self, rdma, d=None):
        d = d or self.need("rdma", "linux.resources.rdma")
        for dev, lim in rdma.items():
            parts = [dev]
            if lim.hca_handles is not None:
                parts.append("hca_handle=%d" % lim.hca_handles)
            if lim.hca_objects is not None:
                parts.append("hca_object=%d" % lim.hca_objects)
            self._write(d + "/rdma.max", " ".join(parts))

    def _unified(self, unified):
        raise CgroupError("invalid configuration: linux.resources.unified needs cgroup v2, but this "
                          "host uses cgroup v1")

    # -- freezer ------------------------------------------------------------
    def _freezer(self):
        return self.need("freezer", "pause/resume")

    def freeze(self):
        import time
        f = self._freezer() + "/freezer.state"
        deadline = time.monotonic() + 10
        delay = 0.0005
        while True:
            self._write(f, "FROZEN")
            if self._read(f).strip() == "FROZEN":
                return
            if time.monotonic() > deadline:
                self._write(f, "THAWED")
                raise CgroupError("unable to freeze the container: %s stays FREEZING" % f)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def thaw(self):
        f = self._freezer() + "/freezer.state"
        self._write(f, "THAWED")

    def freezer_file(self):
        d = self.ctl_dir("freezer")
        return None if d is None else d + "/freezer.state"

    def frozen_effective(self):
        # v1 reports an ancestor's freezing in the child's freezer.state
        d = self.ctl_dir("freezer")
        if d is None or not self._exists(d + "/freezer.state"):
            return False
        return self._read(d + "/freezer.state").strip() in ("FROZEN", "FREEZING")

    def frozen(self):
        d = self.ctl_dir("freezer")
        if d is None or not self._exists(d + "/freezer.state"):
            return False
        return self._read(d + "/freezer.state").strip() == "FROZEN"

    # -- stats --------------------------------------------------------------
    def stats(self):
        from pyrunc.linux.cgroups import stats
        return stats.v1_stats(self)

    def oom_count(self):
        d = self.ctl_dir("memory")
        if d is None or not self._exists(d + "/memory.oom_control"):
            return 0
        return flat_key(self._read(d + "/memory.oom_control"), "oom_kill")
