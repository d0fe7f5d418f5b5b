"""The systemd cgroup driver (``--systemd-cgroup``), on cgroup v2.

Where systemd runs, it owns the cgroup tree: a container gets a transient
scope unit, as with runc. ``cgroupsPath`` is ``slice:prefix:name``; the
unit is ``prefix-name.scope`` in ``slice`` (default ``system.slice``), and
its cgroup is the slice's path plus the unit, e.g. ``system.slice:pyrunc:c1``
-> ``/sys/fs/cgroup/system.slice/pyrunc-c1.scope``. A slice name spells its
ancestors (``a-b.slice`` lives in ``a.slice``).

Over D-Bus (org.freedesktop.systemd1, jeepney: a small pure-Python D-Bus
library, kept off every other path):
  - add_pid(init) starts the scope: StartTransientUnit with the init's PID,
    Delegate=yes (the container may manage its own sub-cgroups), no default
    dependencies, accounting on, and the limits systemd itself knows
    (MemoryMax, MemoryLow, MemorySwapMax, TasksMax, CPUWeight,
    CPUQuotaPerSecUSec, CPUQuotaPeriodUSec). Then every resource is also
    written to the scope's files by the v2 driver (conversions, devices
    eBPF, cpuset, io, hugetlb, unified keys: what systemd has no property
    for). systemd keeps the properties it was given, so a reload does not
    undo them.
  - update sets the same properties (SetUnitProperties, runtime) and writes
    the files.
  - destroy stops the unit (StopUnit); systemd removes the cgroup.
Freeze, kill, stats and the rest are the v2 driver's, on the scope's dir.
"""

import os
import time

from pyrunc.linux.cgroups import CgroupError
from pyrunc.linux.cgroups.v2 import V2Manager, shares_to_weight

SYSTEMD_RUN_DIR = "/run/systemd/system"
_UNLIMITED = (1 << 64) - 1


def parse_path(p):
    """'system.slice:pyrt:r2' -> ('system.slice', 'pyrt', 'r2')"""
    parts = (p or "").split(":")
    if len(parts) != 3 or not parts[2]:
        raise CgroupError("expected cgroupsPath of the form slice:prefix:name "
                          "with --systemd-cgroup, got %r" % p)
    return tuple(parts)


def unit_name(prefix, name):
    if name.endswith(".slice") or name.endswith(".scope"):
        return name
    return "%s-%s.scope" % (prefix, name) if prefix else name + ".scope"


def expand_slice(slice_):
    """'a-b.slice' -> '/a.slice/a-b.slice'; '-.slice' -> '' (the root)."""
    if slice_ == "-.slice":
        return ""
    if not slice_.endswith(".slice") or "/" in slice_:
        raise CgroupError("invalid slice name %r" % slice_)
    base = slice_[:-len(".slice")]
    if not base or base.startswith("-") or base.endswith("-") or "--" in base:
        raise CgroupError("invalid slice name %r" % slice_)
    path, acc = "", ""
    for part in base.split("-"):
        acc = part if not acc else acc + "-" + part
        path += "/" + acc + ".slice"
    return path


def check(run_dir=SYSTEMD_RUN_DIR):
    if not os.path.isdir(run_dir):
        raise CgroupError("systemd cgroup driver requested but systemd is not running")


class Bus:
    """The few calls to systemd's manager object."""

    def __init__(self):
        try:
            from jeepney import DBusAddress
            from jeepney.io.blocking import open_dbus_connection
        except ImportError:
            raise CgroupError("the systemd cgroup driver needs the jeepney package") from None
        try:
            self.conn = open_dbus_connection(bus="SYSTEM")
        except OSError as e:
            raise CgroupError("systemd: cannot connect to the system bus: %s"
                              % (os.strerror(e.errno).lower() if e.errno else e)) from None
        self.manager = DBusAddress("/org/freedesktop/systemd1",
                                   bus_name="org.freedesktop.systemd1",
                                   interface="org.freedesktop.systemd1.Manager")

    def call(self, method, signature, args, ignore=()):
        from jeepney import new_method_call
        from jeepney.low_level import MessageType
        reply = self.conn.send_and_get_reply(new_method_call(self.manager, method,
                                                             signature, args), timeout=30)
        if reply.header.message_type == MessageType.error:
            name = reply.header.fields.get(4, "")       # HeaderFields.error_name
            if name in ignore:
                return None
            text = reply.body[0] if reply.body else ""
            raise CgroupError("systemd: %s %s: %s" % (method, args[0], text or name))
        return reply.body

    def close(self):
        self.conn.close()


def properties(res):
    """The (name, (signature, value)) properties systemd knows for res."""
    props = []
    if res is None:
        return props
    m = res.memory
    if m is not None:
        if m.limit:
            props.append(("MemoryMax", ("t", _UNLIMITED if m.limit < 0 else m.limit)))
        if m.reservation:
            props.append(("MemoryLow", ("t", _UNLIMITED if m.reservation < 0
                                        else m.reservation)))
        if m.swap and m.limit and m.limit > 0:
            props.append(("MemorySwapMax", ("t", _UNLIMITED if m.swap < 0
                                            else max(m.swap - m.limit, 0))))
    c = res.cpu
    if c is not None:
        if c.shares:
            props.append(("CPUWeight", ("t", shares_to_weight(c.shares))))
        if c.quota and c.quota > 0:
            period = c.period or 100000
            # systemd's CPUQuota is per second of wall time
            props.append(("CPUQuotaPerSecUSec", ("t", c.quota * 1000000 // period)))
        if c.period:
            props.append(("CPUQuotaPeriodUSec", ("t", c.period)))
    if res.pids is not None and res.pids.limit is not None:
        lim = res.pids.limit
        props.append(("TasksMax", ("t", _UNLIMITED if lim < 0 else max(lim, 1))))
    return props


class SystemdManager(V2Manager):
    kind = "systemd"

    @classmethod
    def new(cls, root, cgroups_path, container_id, own, explicit):
        slice_, prefix, name = parse_path(cgroups_path)
        slice_ = slice_ or "system.slice"
        path = expand_slice(slice_) + "/" + unit_name(prefix, name)
        m = cls(root, {"": path}, container_id, (), True)
        return m

    @property
    def unit(self):
        return self.paths[""].rsplit("/", 1)[1]

    @property
    def slice(self):
        parent = self.paths[""].rsplit("/", 1)[0]
        return parent.rsplit("/", 1)[1] if parent else "-.slice"

    def _unit_exists(self):
        return os.path.isdir(self.dir(""))

    # -- lifecycle ----------------------------------------------------------
    def missing_dirs(self):
        return []           # systemd makes (and removes) the scope's cgroup

    def create(self):
        if self._unit_exists() and self._collect_pids(self.dir("")):
            raise CgroupError("container's cgroup is not empty: %s (unit %s is running)"
                              % (self.dir(""), self.unit))
        self._pending = None

    def apply(self, resources, default_devices=True, devices=True):
        if self._unit_exists():
            V2Manager.apply(self, resources, default_devices, devices)
        else:
            # written once the scope exists
            self._pending = (resources, default_devices, devices)

    def _dry_path(self, path):
        # a scope not started yet: systemd enables what Delegate= and the
        # *Accounting properties ask for down to it, whatever its slice has
        # enabled now; it gets the controllers the host has
        if path.endswith("/cgroup.controllers") and not self._unit_exists():
            return self.root + "/cgroup.controllers"
        return V2Manager._dry_path(self, path)

    def plan(self, resources, default_devices=True, devices=True):
        """The transient scope's unit and properties, then the files the
        v2 driver writes into it (see Manager.plan)."""
        out = V2Manager.plan(self, resources, default_devices, devices)
        out.update(unit=self.unit, slice=self.slice,
                   properties=[[k, v[1]] for k, v in properties(resources)])
        return out

    def add_pid(self, pid):
        if self._unit_exists() and getattr(self, "_pending", None) is None:
            V2Manager.add_pid(self, pid)                    # exec: join the scope
            return
        res, default_devices, devices = getattr(self, "_pending", None) or (None, True, True)
        props = [("Description", ("s", "pyrunc container %s" % (self.id or self.unit))),
                 ("Slice", ("s", self.slice)),
                 ("Delegate", ("b", True)),
                 ("DefaultDependencies", ("b", False)),
                 ("MemoryAccounting", ("b", True)),
                 ("CPUAccounting", ("b", True)),
                 ("IOAccounting", ("b", True)),
                 ("TasksAccounting", ("b", True)),
                 ("PIDs", ("au", [pid]))] + properties(res)
        bus = Bus()
        try:
            bus.call("StartTransientUnit", "ssa(sv)a(sa(sv))",
                     (self.unit, "replace", props, []))
        finally:
            bus.close()
        self._wait(lambda: str(pid) in self._procs(), "the scope to hold the init")
        self._pending = None
        V2Manager.apply(self, res, default_devices, devices)

    def _procs(self):
        try:
            return self._read(self.dir("") + "/cgroup.procs").split()
        except CgroupError:
            return []

    def _wait(self, cond, what, timeout=10.0):
        end = time.monotonic() + timeout
        delay = 0.001
        while not cond():
            if time.monotonic() > end:
                raise CgroupError("systemd: timed out waiting for %s (%s)" % (what, self.unit))
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def update(self, resources):
        props = properties(resources)
        if props:
            bus = Bus()
            try:
                bus.call("SetUnitProperties", "sba(sv)", (self.unit, True, props))
            finally:
                bus.close()
        V2Manager.update(self, resources)

    def destroy(self):
        if self._unit_exists():
            bus = Bus()
            try:
                bus.call("StopUnit", "ss", (self.unit, "replace"),
                         ignore=("org.freedesktop.systemd1.NoSuchUnit",))
            finally:
                bus.close()
            try:
                self._wait(lambda: not self._unit_exists(), "the scope to stop")
            except CgroupError:
                errs = self._remove_tree(self.dir(""))
                if errs:
                    raise CgroupError("; ".join(str(e) for e in errs))
