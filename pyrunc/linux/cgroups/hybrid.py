"""Hybrid driver: cgroup v1 hierarchies plus the cgroup2 mount at
``<root>/unified``.

The container joins every v1 hierarchy and the unified one (key
``"unified"``), as runc does.  Everything is applied through v1 except what
only cgroup2 has here:
  * hugepageLimits when no v1 hugetlb hierarchy exists -> ``hugetlb.<size>.max``
    (+ ``.rsvd.max``) in the unified dir;
  * rdma when no v1 rdma hierarchy exists -> ``rdma.max`` in the unified dir;
  * ``unified`` keys, written raw to the unified dir.
A controller used there is enabled on demand in ``cgroup.subtree_control``
of every ancestor (it must be listed in the unified root's
``cgroup.controllers``, else it is an error).  Device rules stay v1-only.
"""

from pyrunc.linux.cgroups import CgroupError, resolve_path
from pyrunc.linux.cgroups.v1 import V1Manager, hierarchies


def _v2():
    """The v2 driver's writers, imported only when a config needs them."""
    from pyrunc.linux.cgroups import v2
    return v2


class HybridManager(V1Manager):
    kind = "hybrid"

    @classmethod
    def new(cls, root, cgroups_path, container_id, own, explicit):
        h = hierarchies(root)
        paths = {k: resolve_path(cgroups_path, container_id, sorted(c), own)
                 for k, c in h.items()}
        paths["unified"] = resolve_path(cgroups_path, container_id, [""], own)
        return cls(root, paths, container_id, (), explicit)

    def v1_keys(self):
        return [k for k in self.paths if k != "unified"]

    def unified_dir(self):
        return self.dir("unified")

    def ensure_unified(self, ctl, what):
        """Make sure ``ctl`` is enabled for the container's unified dir."""
        d = self.unified_dir()
        if ctl in self._read(d + "/cgroup.controllers").split():
            return d
        top = self.key_dir("unified")
        if ctl not in self._read(top + "/cgroup.controllers").split():
            raise CgroupError("invalid configuration: %s needs the %s cgroup controller, "
                              "which is not present on this host" % (what, ctl))
        cur = top
        for part in self.paths["unified"].strip("/").split("/"):
            sc = self._read(cur + "/cgroup.subtree_control").split()
            if ctl not in sc:
                self._write(cur + "/cgroup.subtree_control", "+" + ctl)
            cur = cur + "/" + part
        return d

    def _hugetlb(self, limits):
        if self.ctl_dir("hugetlb") is not None:
            return V1Manager._hugetlb(self, limits)
        d = self.ensure_unified("hugetlb", "linux.resources.hugepageLimits")
        _v2().write_hugetlb(self, d, limits)

    def _rdma(self, rdma, d=None):
        if self.ctl_dir("rdma") is not None:
            return V1Manager._rdma(self, rdma)
        d = self.ensure_unified("rdma", "linux.resources.rdma")
        return V1Manager._rdma(self, rdma, d)

    def _unified(self, unified):
        d = self.unified_dir()
        for key in unified:
            ctl = _v2().unified_controller(key)
            if ctl is not None:
                self.ensure_unified(ctl, "linux.resources.unified[%r]" % key)
        _v2().write_unified(self, d, unified,
                          set(self._read(d + "/cgroup.controllers").split()))

    def stats(self):
        from pyrunc.linux.cgroups import stats
        data = stats.v1_stats(self)
        if not data["hugetlb"]:
            data["hugetlb"] = stats.hugetlb_v2(self, self.unified_dir())
        return data
