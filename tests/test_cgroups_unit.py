"""Unit tests of pyrunc.linux.cgroups and pyrunc.config.resources against
fake cgroupfs trees (v1, v2 and hybrid layouts) built in temp dirs."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyrunc.config.resources import (Resources, Memory, CPU, Pids, BlockIO, WeightDevice,
                                     ThrottleDevice, HugepageLimit, Network, NetPriority,
                                     DeviceRule, RdmaLimit, parse_resources,
                                     merge_update, resources_to_dict, only_set)
from pyrunc.config.struct import frozen
from pyrunc.linux import cgroups as cg
from pyrunc.linux.cgroups import devices as dv
from pyrunc.linux.cgroups import v2 as cgv2

CALLERS = Path(__file__).resolve().parent / "fixtures" / "callers"
CONFIGS = CALLERS / "configs"
REFERENCE = CALLERS / "runc-reference"

# --- the fake cgroupfs ------------------------------------------------------

COMMON_V1 = {"cgroup.procs": "", "tasks": "", "notify_on_release": "0",
             "cgroup.clone_children": "0"}
ROOT_ONLY_V1 = {"release_agent": "", "cgroup.sane_behavior": "0"}
V1_FILES = {
    "cpu": {"cpu.shares": "1024", "cpu.cfs_period_us": "100000",
            "cpu.cfs_quota_us": "-1", "cpu.cfs_burst_us": "0",
            "cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "0", "cpu.idle": "0",
            "cpu.stat": "nr_periods 4\nnr_throttled 1\nthrottled_time 500\n"},
    "cpuacct": {"cpuacct.usage": "9966270", "cpuacct.usage_percpu": "969649 8996621 \n",
                "cpuacct.usage_percpu_sys": "0 0 \n",
                "cpuacct.usage_percpu_user": "0 8000000 \n",
                "cpuacct.stat": "user 3\nsystem 1\n"},
    "cpuset": {"cpuset.cpus": "0-1", "cpuset.mems": "0", "cpuset.cpu_exclusive": "0",
               "cpuset.mem_exclusive": "0", "cpuset.mem_hardwall": "0",
               "cpuset.memory_migrate": "0", "cpuset.memory_pressure": "0",
               "cpuset.memory_spread_page": "0", "cpuset.memory_spread_slab": "0",
               "cpuset.sched_load_balance": "1", "cpuset.sched_relax_domain_level": "-1"},
    "memory": {"memory.limit_in_bytes": "9223372036854771712",
               "memory.soft_limit_in_bytes": "9223372036854771712",
               "memory.memsw.limit_in_bytes": "9223372036854771712",
               "memory.kmem.limit_in_bytes": "9223372036854771712",
               "memory.kmem.tcp.limit_in_bytes": "9223372036854771712",
               "memory.usage_in_bytes": "2560000", "memory.max_usage_in_bytes": "2564096",
               "memory.failcnt": "0", "memory.memsw.usage_in_bytes": "2560000",
               "memory.memsw.max_usage_in_bytes": "2564096", "memory.memsw.failcnt": "0",
               "memory.kmem.usage_in_bytes": "266240",
               "memory.kmem.max_usage_in_bytes": "589824", "memory.kmem.failcnt": "0",
               "memory.kmem.tcp.usage_in_bytes": "0",
               "memory.kmem.tcp.max_usage_in_bytes": "0", "memory.kmem.tcp.failcnt": "0",
               "memory.swappiness": "60", "memory.use_hierarchy": "1",
               "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
               "memory.stat": "cache 1863680\nrss 53248\ntotal_cache 1863680\n"},
    "devices": {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n"},
    "freezer": {"freezer.state": "THAWED"},
    "blkio": {"blkio.bfq.weight": "100", "blkio.bfq.weight_device": "",
              "blkio.bfq.io_service_bytes_recursive":
                  "254:0 Read 1863680\n254:0 Write 0\n254:0 Sync 1863680\n"
                  "254:0 Async 0\n254:0 Discard 0\n254:0 Total 1863680\nTotal 1863680\n",
              "blkio.bfq.io_serviced_recursive":
                  "254:0 Read 21\n254:0 Write 0\n254:0 Sync 21\n254:0 Async 0\n"
                  "254:0 Discard 0\n254:0 Total 21\nTotal 21\n",
              "blkio.throttle.read_bps_device": "", "blkio.throttle.write_bps_device": "",
              "blkio.throttle.read_iops_device": "", "blkio.throttle.write_iops_device": "",
              "blkio.throttle.io_service_bytes_recursive": "Total 0\n",
              "blkio.throttle.io_serviced_recursive": "Total 0\n"},
    "pids": {"pids.max": "max", "pids.current": "1"},
    "systemd": {},
    "hugetlb": {"hugetlb.2MB.limit_in_bytes": "9223372036854771712",
                "hugetlb.2MB.usage_in_bytes": "0", "hugetlb.2MB.max_usage_in_bytes": "0",
                "hugetlb.2MB.failcnt": "0",
                "hugetlb.1GB.limit_in_bytes": "9223372036854771712",
                "hugetlb.1GB.usage_in_bytes": "0", "hugetlb.1GB.max_usage_in_bytes": "0",
                "hugetlb.1GB.failcnt": "0"},
}
HOST_V1 = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
           "systemd")

V2_CORE = {"cgroup.procs": "", "cgroup.subtree_control": "", "cgroup.freeze": "0",
           "cgroup.kill": "", "cgroup.events": "populated 0\nfrozen 0\n",
           "cgroup.type": "domain", "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"}
V2_CTL = {
    "memory": {"memory.max": "max", "memory.low": "0", "memory.swap.max": "max",
               "memory.current": "4096", "memory.swap.current": "0",
               "memory.events": "low 0\nhigh 0\nmax 2\noom 1\noom_kill 3\n",
               "memory.stat": "anon 4096\nfile 8192\n"},
    "cpu": {"cpu.weight": "100", "cpu.max": "max 100000", "cpu.max.burst": "0",
            "cpu.idle": "0"},
    "io": {"io.weight": "default 100", "io.max": "",
           "io.stat": "254:0 rbytes=4096 wbytes=0 rios=2 wios=0 dbytes=0 dios=0\n"},
    "pids": {"pids.max": "max", "pids.current": "2"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": "", "cpuset.cpus.effective": "0-1",
               "cpuset.mems.effective": "0"},
    "rdma": {"rdma.max": "", "rdma.current": ""},
    "hugetlb": {"hugetlb.2MB.max": "max", "hugetlb.2MB.rsvd.max": "max",
                "hugetlb.2MB.current": "0", "hugetlb.2MB.events": "max 0\n",
                "hugetlb.1GB.max": "max", "hugetlb.1GB.rsvd.max": "max",
                "hugetlb.1GB.current": "0", "hugetlb.1GB.events": "max 0\n"},
}


def _write(path, content):
    with open(path, "w") as f:
        f.write(content)


class FakeFS:
    """Emulates the bits of cgroupfs the drivers rely on: control files
    appear on mkdir, rmdir removes them but refuses a populated cgroup."""

    def __init__(self, tmp_path, monkeypatch):
        self.root = str(tmp_path / "cgroup")
        os.mkdir(self.root)
        monkeypatch.setattr(cg, "mkdir", self.mkdir)
        monkeypatch.setattr(cg, "rmdir", self.rmdir)
        self._real_write = cg.write_file
        monkeypatch.setattr(cg, "write_file", self.write_file)
        self.v2_dirs = set()

    def write_file(self, path, data):
        """cgroup.subtree_control takes +c/-c tokens and adds the controller's
        files to (or drops it from) every child, as the kernel does."""
        if not path.endswith("/cgroup.subtree_control"):
            return self._real_write(path, data)
        d = os.path.dirname(path)
        have = read(path).split()
        avail = read(d + "/cgroup.controllers").split()
        for tok in str(data).split():
            c = tok[1:]
            if tok[0] not in "+-" or c not in avail:
                raise cg.CgroupError("write %s: invalid argument" % path)
            if tok[0] == "+" and c not in have:
                have.append(c)
            elif tok[0] == "-" and c in have:
                have.remove(c)
        _write(path, " ".join(have))
        for e in os.scandir(d):
            if e.is_dir():
                _write(e.path + "/cgroup.controllers", " ".join(have))
                for c in have:
                    for f, content in V2_CTL.get(c, {}).items():
                        if not os.path.exists(e.path + "/" + f):
                            _write(e.path + "/" + f, content)

    # layouts
    def v1(self, names=HOST_V1, base=None):
        base = base or self.root
        for n in names:
            d = base + "/" + n
            os.mkdir(d)
            for f, c in {**COMMON_V1, **ROOT_ONLY_V1, **V1_FILES[n]}.items():
                _write(d + "/" + f, c)
        return self

    def v2(self, d=None, controllers=("cpuset", "cpu", "io", "memory", "hugetlb", "pids")):
        d = d or self.root
        self.v2_dirs.add(d)
        for f, c in V2_CORE.items():
            if f not in ("cgroup.freeze", "cgroup.kill", "cgroup.events", "cgroup.type"):
                _write(d + "/" + f, c)
        _write(d + "/cgroup.controllers", " ".join(controllers) + "\n")
        return self

    def hybrid(self, unified_controllers=("hugetlb",)):
        self.v1()
        os.mkdir(self.root + "/unified")
        self.v2(self.root + "/unified", unified_controllers)
        return self

    def _is_v2(self, path):
        return any(path == r or path.startswith(r + "/") for r in self.v2_dirs)

    def mkdir(self, path):
        os.mkdir(path)
        parent = os.path.dirname(path)
        if self._is_v2(path):
            enabled = Path(parent, "cgroup.subtree_control").read_text().split()
            for f, c in V2_CORE.items():
                _write(path + "/" + f, c)
            _write(path + "/cgroup.controllers", " ".join(enabled) + "\n")
            for ctl in enabled:
                for f, c in V2_CTL.get(ctl, {}).items():
                    _write(path + "/" + f, c)
            return
        for e in os.scandir(parent):
            if e.is_file() and e.name not in ROOT_ONLY_V1:
                content = Path(e.path).read_text()
                if e.name in ("cgroup.procs", "tasks", "cpuset.cpus", "cpuset.mems"):
                    content = ""
                elif e.name == "freezer.state":
                    content = "THAWED"
                _write(path + "/" + e.name, content)

    def rmdir(self, path):
        if any(e.is_dir() for e in os.scandir(path)):
            raise OSError(errno.ENOTEMPTY, "Directory not empty", path)
        procs = Path(path, "cgroup.procs")
        if procs.exists() and procs.read_text().strip():
            raise OSError(errno.EBUSY, "Device or resource busy", path)
        for e in os.scandir(path):
            os.unlink(e.path)
        os.rmdir(path)


@pytest.fixture
def fs(tmp_path, monkeypatch):
    return FakeFS(tmp_path, monkeypatch)


def read(path):
    return Path(path).read_text()


def v1_manager(fs, path="/ctr", cid="c1", create=True, **kw):
    """A manager on the fake tree, created, with an empty write trace."""
    m = cg.new_manager(path, cid, root=fs.root, **kw)
    if create:
        m.create()
    m.trace = []
    return m


def writes(m, name=None):
    return [(os.path.basename(p), v) for p, v in m.trace
            if name is None or os.path.basename(p) == name]


# --- detection and paths ------------------------------------------------------

@pytest.mark.parametrize("layout,expect", [("v1", "v1"), ("v2", "v2"), ("hybrid", "hybrid")])
def test_detect(fs, layout, expect):
    getattr(fs, layout)()
    assert cg.detect(fs.root) == expect
    m = cg.new_manager("/x", "id", root=fs.root)
    assert m.kind == expect


def test_v1_hierarchies_names_and_comounts(fs):
    fs.v1(("memory", "systemd", "pids"))
    os.mkdir(fs.root + "/cpu,cpuacct")
    for f, c in {**COMMON_V1, **V1_FILES["cpu"], **V1_FILES["cpuacct"]}.items():
        _write(fs.root + "/cpu,cpuacct/" + f, c)
    os.symlink("cpu,cpuacct", fs.root + "/cpu")
    os.symlink("cpu,cpuacct", fs.root + "/cpuacct")
    os.mkdir(fs.root + "/not-mounted")          # no cgroup.procs: ignored
    from pyrunc.linux.cgroups.v1 import hierarchies
    h = hierarchies(fs.root)
    assert h == {"cpu,cpuacct": {"cpu", "cpuacct"}, "memory": {"memory"},
                 "pids": {"pids"}, "systemd": {"name=systemd"}}
    m = cg.new_manager("/a", "x", root=fs.root)
    assert m.ctl_dir("cpuacct") == fs.root + "/cpu,cpuacct/a"
    assert m.ctl_dir("name=systemd") == fs.root + "/systemd/a"


def test_path_absolute_default_and_cleaning(fs):
    fs.v1()
    m = cg.new_manager("/docker/abc", "abc", root=fs.root)
    assert set(m.paths) == set(HOST_V1)
    assert set(m.paths.values()) == {"/docker/abc"}
    assert m.explicit
    d = cg.new_manager(None, "ctr1", root=fs.root)
    assert set(d.paths.values()) == {"/pyrunc/ctr1"} and not d.explicit
    assert set(cg.new_manager("", "c2", root=fs.root).paths.values()) == {"/pyrunc/c2"}
    e = cg.new_manager("/../../etc/./x//y/", "i", root=fs.root)
    assert set(e.paths.values()) == {"/etc/x/y"}
    with pytest.raises(cg.CgroupError):
        cg.new_manager("/a/..", "i", root=fs.root)


def test_path_relative_uses_own_cgroup_per_controller(fs):
    fs.v1()
    own = {"memory": "/process_api/abc", "name=systemd": "/user.slice", "cpu": "/"}
    m = cg.new_manager("testdir/cgrouptest/container", "i", root=fs.root, own_cgroup=own)
    assert m.paths["memory"] == "/process_api/abc/testdir/cgrouptest/container"
    assert m.paths["systemd"] == "/user.slice/testdir/cgrouptest/container"
    assert m.paths["cpu"] == "/testdir/cgrouptest/container"
    assert m.paths["pids"] == "/testdir/cgrouptest/container"     # not in own: "/"
    # the escape attempt stays inside the hierarchy
    m2 = cg.new_manager("../../../x", "i", root=fs.root, own_cgroup={"memory": "/a"})
    assert m2.paths["memory"] == "/x"


def test_path_relative_v2_and_hybrid(fs):
    fs.hybrid()
    own = {"": "/init.scope", "memory": "/m"}
    m = cg.new_manager("rel", "i", root=fs.root, own_cgroup=own)
    assert m.paths["unified"] == "/init.scope/rel"
    assert m.paths["memory"] == "/m/rel"


def test_path_relative_reads_proc_self_cgroup(fs):
    fs.v1()
    own = cg.own_cgroups()
    m = cg.new_manager("rel/x", "i", root=fs.root)
    assert m.paths["memory"] == cg.clean_path(own["memory"] + "/rel/x")


def test_own_cgroups_parsing(tmp_path):
    p = tmp_path / "cgroup"
    p.write_text("9:name=systemd:/\n4:memory:/process_api/x\n2:cpu,cpuacct:/c\n0::/u\n")
    own = cg.own_cgroups(str(p))
    assert own == {"name=systemd": "/", "memory": "/process_api/x", "cpu": "/c",
                   "cpuacct": "/c", "": "/u"}


def test_systemd_driver_needs_a_running_systemd(tmp_path, monkeypatch):
    from pyrunc.linux.cgroups import systemd
    with pytest.raises(cg.CgroupError, match="systemd cgroup driver requested but "
                                             "systemd is not running"):
        systemd.check(str(tmp_path / "nope"))
    monkeypatch.setattr(systemd, "SYSTEMD_RUN_DIR", str(tmp_path / "nope"))
    monkeypatch.setattr(systemd.check, "__defaults__", (str(tmp_path / "nope"),))
    with pytest.raises(cg.CgroupError, match="systemd is not running"):
        cg.new_manager("system.slice:pyrt:r2", "r2", systemd=True)
    assert systemd.parse_path("system.slice:pyrt:r2") == ("system.slice", "pyrt", "r2")


def test_import_is_lean():
    code = ("import sys; import pyrunc.linux.cgroups as c; "
            "bad = [m for m in ('json', 're', 'typing', 'dataclasses', "
            "'pyrunc.linux.cgroups.v1', 'pyrunc.linux.cgroups.v2', 'subprocess') "
            "if m in sys.modules]; print(bad)")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-S", "-c", code], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- create / destroy ----------------------------------------------------------

def test_create_v1_mkdirs_everywhere_and_copies_cpuset(fs):
    fs.v1()
    m = v1_manager(fs, "/a/b", create=False)
    m.create()
    for h in HOST_V1:
        assert os.path.isdir(fs.root + "/" + h + "/a/b")
    assert sorted(m.created) == sorted([fs.root + "/" + h + "/a" for h in HOST_V1]
                                       + [fs.root + "/" + h + "/a/b" for h in HOST_V1])
    assert read(fs.root + "/cpuset/a/b/cpuset.cpus") == "0-1"
    assert read(fs.root + "/cpuset/a/cpuset.mems") == "0"


def test_create_hybrid_includes_unified(fs):
    fs.hybrid()
    m = v1_manager(fs, "/ctr")
    m.create()
    assert os.path.isdir(fs.root + "/unified/ctr")
    assert fs.root + "/unified/ctr" in m.created
    assert os.path.isdir(fs.root + "/systemd/ctr")
    m.add_pid(4242)
    procs = {p.split("/")[-3] for p, v in m.trace
             if p.endswith("cgroup.procs") and v == "4242"}
    assert procs == set(HOST_V1) | {"unified"}


def test_create_refuses_populated_default_cgroup(fs):
    fs.v1()
    for h in HOST_V1:
        os.makedirs(fs.root + "/" + h + "/pyrunc/busy")
        _write(fs.root + "/" + h + "/pyrunc/busy/cgroup.procs", "")
    _write(fs.root + "/pids/pyrunc/busy/cgroup.procs", "77\n")
    m = v1_manager(fs, None, "busy", create=False)
    with pytest.raises(cg.CgroupError, match="not empty"):
        m.create()
    # an explicit path too (runc 1.2+; 1.1 only warned)
    e = v1_manager(fs, "/pyrunc/busy", "busy", create=False)
    with pytest.raises(cg.CgroupError, match="container's cgroup is not empty"):
        e.create()
    assert e.created == []


def test_destroy_removes_only_created(fs):
    fs.v1()
    fs.mkdir(fs.root + "/pids/pre")                       # pre-existing parent
    m = v1_manager(fs, "/pre/ctr")
    m.create()
    assert fs.root + "/pids/pre" not in m.created
    assert fs.root + "/memory/pre" in m.created
    # the container made a sub-cgroup of its own: removed with it
    fs.mkdir(fs.root + "/memory/pre/ctr/sub")
    # another container under an ancestor we created: left alone
    other = v1_manager(fs, "/pre/other", "other")
    other.create()
    m.destroy()
    assert not os.path.exists(fs.root + "/memory/pre/ctr")
    assert os.path.isdir(fs.root + "/memory/pre/other")
    assert os.path.isdir(fs.root + "/pids/pre")
    # m created /memory/pre but "other" still lives there: kept, remembered
    assert fs.root + "/memory/pre" in m.created
    other.destroy()
    assert os.path.isdir(fs.root + "/memory/pre")         # other did not create it
    m.destroy()
    assert not os.path.exists(fs.root + "/memory/pre") and m.created == []


def test_destroy_never_removes_preexisting_leaf(fs):
    fs.v1()
    for h in HOST_V1:
        fs.mkdir(fs.root + "/" + h + "/cgrouptest")
    m = v1_manager(fs, "/cgrouptest", create=False)
    m.create()
    assert m.created == []
    m.destroy()
    for h in HOST_V1:
        assert os.path.isdir(fs.root + "/" + h + "/cgrouptest")


def test_destroy_retries_busy_then_reports(fs, monkeypatch):
    fs.v1(("pids",))
    m = v1_manager(fs, "/busy")
    m.create()
    _write(fs.root + "/pids/busy/cgroup.procs", "1\n")
    monkeypatch.setattr(type(m), "_RMDIR_TRIES", 2)
    with pytest.raises(cg.CgroupError, match="busy"):
        m.destroy()
    assert m.created == [fs.root + "/pids/busy"]
    _write(fs.root + "/pids/busy/cgroup.procs", "")
    m.destroy()
    assert m.created == [] and not os.path.exists(fs.root + "/pids/busy")


def test_to_dict_from_dict_round_trip(fs):
    fs.hybrid()
    m = v1_manager(fs, "/a/b", "idx")
    m.create()
    d = json.loads(json.dumps(m.to_dict()))
    assert d["driver"] == "hybrid" and d["id"] == "idx"
    m2 = cg.Manager.from_dict(d)
    assert type(m2) is type(m)
    assert m2.to_dict() == m.to_dict()
    assert m2.dir("memory") == m.dir("memory")
    assert m2.freezer_file() == fs.root + "/freezer/a/b/freezer.state"
    m2.destroy()
    assert not os.path.exists(fs.root + "/memory/a")
    assert not os.path.exists(fs.root + "/unified/a")


# --- v1 resources ------------------------------------------------------------

def test_v1_memory_files(fs):
    fs.v1()
    m = v1_manager(fs)
    m.create()
    m.apply(Resources(memory=Memory(limit=128 << 20, reservation=64 << 20, swap=256 << 20,
                                    kernel=50 << 20, kernel_tcp=40 << 20, swappiness=10,
                                    disable_oom_killer=True, use_hierarchy=True)))
    d = fs.root + "/memory/ctr/"
    assert read(d + "memory.limit_in_bytes") == str(128 << 20)
    assert read(d + "memory.soft_limit_in_bytes") == str(64 << 20)
    assert read(d + "memory.memsw.limit_in_bytes") == str(256 << 20)
    assert read(d + "memory.kmem.limit_in_bytes") == str(50 << 20)
    assert read(d + "memory.kmem.tcp.limit_in_bytes") == str(40 << 20)
    assert read(d + "memory.swappiness") == "10"
    assert read(d + "memory.oom_control") == "1"
    # use_hierarchy already 1: not rewritten
    assert ("memory.use_hierarchy", "1") not in writes(m)
    # the current memsw (unlimited) is above the new swap: limit first
    mem = [w for w in writes(m) if w[0] in ("memory.limit_in_bytes",
                                            "memory.memsw.limit_in_bytes")]
    assert mem == [("memory.limit_in_bytes", str(128 << 20)),
                   ("memory.memsw.limit_in_bytes", str(256 << 20))]


def test_v1_memory_swap_order_when_growing(fs):
    fs.v1()
    m = v1_manager(fs)
    m.create()
    _write(fs.root + "/memory/ctr/memory.memsw.limit_in_bytes", str(100 << 20))
    m.update(Resources(memory=Memory(limit=200 << 20, swap=400 << 20)))
    assert writes(m) == [("memory.memsw.limit_in_bytes", str(400 << 20)),
                         ("memory.limit_in_bytes", str(200 << 20))]


def test_v1_memory_unlimited_sets_memsw_unlimited(fs):
    fs.v1()
    m = v1_manager(fs)
    m.create()
    m.update(Resources(memory=Memory(limit=-1)))
    assert writes(m) == [("memory.memsw.limit_in_bytes", "-1"),
                         ("memory.limit_in_bytes", "-1")]


def test_v1_memory_zero_means_unset_and_missing_kmem_warns(fs):
    fs.v1()
    m = v1_manager(fs)
    m.create()
    os.unlink(fs.root + "/memory/ctr/memory.kmem.limit_in_bytes")
    m.update(Resources(memory=Memory(limit=0, reservation=0, swap=0, kernel=1 << 20,
                                     disable_oom_killer=False)))
    assert writes(m) == []
    assert any("kernel memory" in w for w in m.warnings)


def test_v1_cpu_and_cpuset(fs):
    fs.v1()
    m = v1_manager(fs)
    m.create()
    m.apply(Resources(cpu=CPU(shares=512, quota=50000, period=200000, burst=1000,
                              realtime_runtime=950, realtime_period=1000, cpus="1",
                              mems="0", idle=1)))
    d = fs.root + "/cpu/ctr/"
    assert read(d + "cpu.shares") == "512"
    assert read(d + "cpu.cfs_quota_us") == "50000"
    assert read(d + "cpu.cfs_period_us") == "200000"
    assert read(d + "cpu.cfs_burst_us") == "1000"
    assert read(d + "cpu.rt_period_us") == "1000"
    assert read(d + "cpu.rt_runtime_us") == "950"
    assert read(d + "cpu.idle") == "1"
    assert read(fs.root + "/cpuset/ctr/cpuset.cpus") == "1"
    assert read(fs.root + "/cpuset/ctr/cpuset.mems") == "0"
    w = [x[0] for x in writes(m)]
    assert w.index("cpu.cfs_period_us") < w.index("cpu.cfs_quota_us")


def test_v1_cpu_rt_missing_file_warns(fs):
    fs.v1()
    m = v1_manager(fs)
    m.create()
    os.unlink(fs.root + "/cpu/ctr/cpu.rt_runtime_us")
    m.apply(Resources(cpu=CPU(realtime_runtime=10)))
    assert any("realtime" in w for w in m.warnings)


def test_v1_pids(fs):
    fs.v1()
    m = v1_manager(fs)
    m.create()
    m.update(Resources(pids=Pids(limit=-1)))
    assert read(fs.root + "/pids/ctr/pids.max") == "max"
    m.update(Resources(pids=Pids(limit=0)))          # spec 1.3: 0 is a real limit
    assert read(fs.root + "/pids/ctr/pids.max") == "0"
    m.update(Resources(pids=Pids(limit=77)))
    assert read(fs.root + "/pids/ctr/pids.max") == "77"
    m.trace = []
    m.update(Resources(pids=Pids()))                 # unset: nothing written
    assert writes(m) == []


def test_v1_blkio(fs):
    fs.v1()
    m = v1_manager(fs)
    m.create()
    m.apply(Resources(block_io=BlockIO(
        weight=300, weight_device=(WeightDevice(major=254, minor=0, weight=500),),
        throttle_read_bps_device=(ThrottleDevice(major=254, minor=0, rate=600),),
        throttle_write_bps_device=(ThrottleDevice(major=254, minor=0, rate=700),),
        throttle_read_iops_device=(ThrottleDevice(major=254, minor=0, rate=80),),
        throttle_write_iops_device=(ThrottleDevice(major=254, minor=0, rate=90),))))
    d = fs.root + "/blkio/ctr/"
    assert read(d + "blkio.bfq.weight") == "300"            # no CFQ: BFQ fallback
    assert read(d + "blkio.bfq.weight_device") == "254:0 500"
    assert read(d + "blkio.throttle.read_bps_device") == "254:0 600"
    assert read(d + "blkio.throttle.write_bps_device") == "254:0 700"
    assert read(d + "blkio.throttle.read_iops_device") == "254:0 80"
    assert read(d + "blkio.throttle.write_iops_device") == "254:0 90"
    with pytest.raises(cg.CgroupError, match="blkio.leaf_weight"):
        m.apply(Resources(block_io=BlockIO(leaf_weight=10)))


def test_v1_hugetlb(fs):
    fs.v1(HOST_V1 + ("hugetlb",))
    m = v1_manager(fs)
    m.create()
    m.apply(Resources(hugepage_limits=(HugepageLimit(page_size="2MB", limit=4 << 20),)))
    assert read(fs.root + "/hugetlb/ctr/hugetlb.2MB.limit_in_bytes") == str(4 << 20)
    with pytest.raises(cg.CgroupError, match="invalid hugepage size '3MB'"):
        m.apply(Resources(hugepage_limits=(HugepageLimit(page_size="3MB", limit=1),)))


def test_v1_missing_controllers_are_errors(fs):
    fs.v1()                          # no hugetlb, net_cls, net_prio, rdma here
    m = v1_manager(fs)
    m.create()
    cases = [
        Resources(hugepage_limits=(HugepageLimit(page_size="2MB", limit=1),)),
        Resources(network=Network(class_id=1048577)),
        Resources(network=Network(priorities=(NetPriority(name="lo", priority=1),))),
        Resources(rdma=frozen({"mlx5_1": RdmaLimit(hca_handles=3)})),
        Resources(unified=frozen({"memory.high": "1000"})),
    ]
    for r in cases:
        with pytest.raises(cg.CgroupError, match="not present|cgroup v2"):
            m.apply(r)


def test_v1_network_when_mounted(fs):
    fs.v1()
    for n, files in (("net_cls", {"net_cls.classid": "0"}),
                     ("net_prio", {"net_prio.ifpriomap": ""})):
        os.mkdir(fs.root + "/" + n)
        for f, c in {**COMMON_V1, **files}.items():
            _write(fs.root + "/" + n + "/" + f, c)
    m = v1_manager(fs)
    m.create()
    m.update(Resources(network=Network(class_id=1048577, priorities=(
        NetPriority(name="lo", priority=5), NetPriority(name="eth0", priority=7)))))
    assert read(fs.root + "/net_cls/ctr/net_cls.classid") == "1048577"
    assert writes(m, "net_prio.ifpriomap") == [("net_prio.ifpriomap", "lo 5"),
                                               ("net_prio.ifpriomap", "eth0 7")]


def test_v1_device_rule_order(fs):
    fs.v1()
    m = v1_manager(fs)
    m.create()
    rules = (DeviceRule(allow=False, access="rwm"),
             DeviceRule(allow=True, type="c", major=10, minor=229, access="rwm"),
             DeviceRule(allow=True, type="b", major=8, minor=20, access="rw"),
             DeviceRule(allow=True, type="b", major=10, minor=200, access="r"),
             DeviceRule(allow=False, type="c", major=1, minor=3))
    m.apply(Resources(devices=rules))
    w = [x for x in writes(m) if x[0].startswith("devices.")]
    assert w[:6] == [("devices.deny", "a"), ("devices.deny", "a *:* rwm"),
                     ("devices.allow", "c 10:229 rwm"), ("devices.allow", "b 8:20 rw"),
                     ("devices.allow", "b 10:200 r"), ("devices.deny", "c 1:3 rwm")]
    assert w[6:] == [("devices.allow", dv.rule_line(r)) for r in dv.DEFAULT_RULES]
    assert ("devices.allow", "c *:* m") in w and ("devices.allow", "c 136:* rwm") in w
    m.trace = []
    m.apply(Resources(devices=rules[1:2]), default_devices=False)
    assert writes(m) == [("devices.deny", "a"), ("devices.allow", "c 10:229 rwm")]
    m.trace = []
    m.update(Resources(devices=rules))                   # update leaves devices alone
    assert writes(m) == []


def test_v1_devices_even_without_resources(fs):
    fs.v1()
    m = v1_manager(fs)
    m.create()
    m.apply(None)
    assert writes(m)[0] == ("devices.deny", "a")
    assert len(writes(m)) == 1 + len(dv.DEFAULT_RULES)


def test_v1_freeze_thaw(fs):
    fs.v1()
    m = v1_manager(fs)
    m.create()
    assert not m.frozen()
    m.freeze()
    assert read(m.freezer_file()) == "FROZEN" and m.frozen()
    m.thaw()
    assert read(m.freezer_file()) == "THAWED" and not m.frozen()


def test_v1_pids_recursive_and_kill_all(fs, monkeypatch):
    fs.v1()
    m = v1_manager(fs)
    m.create()
    _write(fs.root + "/pids/ctr/cgroup.procs", "10\n11\n")
    fs.mkdir(fs.root + "/pids/ctr/sub")
    _write(fs.root + "/pids/ctr/sub/cgroup.procs", "12\n")
    assert m.pids() == [10, 11, 12]
    sent = []

    def fake_kill(pid, sig):
        sent.append((pid, sig, read(m.freezer_file())))
        if pid == 11:
            raise ProcessLookupError
    monkeypatch.setattr(cg, "kill", fake_kill)
    m.kill_all(signal.SIGTERM)
    assert [(p, s) for p, s, _ in sent] == [(10, 15), (11, 15), (12, 15)]
    assert {st for _, _, st in sent} == {"FROZEN"}      # signalled while frozen
    assert read(m.freezer_file()) == "THAWED"
    # a paused container stays paused
    m.freeze()
    m.kill_all(signal.SIGKILL)
    assert read(m.freezer_file()) == "FROZEN"


def test_v1_oom_count(fs):
    fs.v1()
    m = v1_manager(fs)
    m.create()
    assert m.oom_count() == 0
    _write(fs.root + "/memory/ctr/memory.oom_control",
           "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n")
    assert m.oom_count() == 4


def _key_tree(d):
    if isinstance(d, dict):
        return {k: _key_tree(v) for k, v in d.items()}
    if isinstance(d, list) and d and isinstance(d[0], dict):
        return [_key_tree(d[0])]
    return type(d).__name__


def test_v1_stats_match_runc_reference(fs):
    fs.v1()
    m = v1_manager(fs)
    m.create()
    # make the container's files look like the reference values
    for h in ("cpuacct", "memory", "blkio", "cpuset", "cpu"):
        for f, c in V1_FILES[h].items():
            _write(fs.root + "/" + h + "/ctr/" + f, c)
    _write(fs.root + "/pids/ctr/pids.current", "1")
    _write(fs.root + "/cpu/ctr/cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n")
    data = m.stats()
    ref = json.loads((REFERENCE / "events-stats.json").read_text())["data"]
    assert list(data) == list(ref)
    assert data["cpu"]["usage"]["total"] == ref["cpu"]["usage"]["total"]
    assert data["cpu"]["usage"]["percpu"] == ref["cpu"]["usage"]["percpu"]
    assert data["cpu"]["usage"]["percpu_kernel"] == [0, 0]
    assert data["cpu"]["throttling"] == {}
    assert set(data["cpu"]["usage"]) == set(ref["cpu"]["usage"])
    assert data["cpuset"] == ref["cpuset"]
    assert data["memory"]["usage"] == ref["memory"]["usage"]
    assert data["memory"]["swap"] == ref["memory"]["swap"]
    assert data["memory"]["kernel"] == ref["memory"]["kernel"]
    assert data["memory"]["kernelTCP"] == ref["memory"]["kernelTCP"]
    assert data["memory"]["cache"] == ref["memory"]["cache"]
    assert data["pids"] == ref["pids"]
    assert data["blkio"] == ref["blkio"]
    assert data["hugetlb"] == {} and data["intel_rdt"] == {}
    assert data["network_interfaces"] is None
    json.dumps(data)


def test_v1_stats_throttling_and_hugetlb(fs):
    fs.v1(HOST_V1 + ("hugetlb",))
    m = v1_manager(fs)
    m.create()
    _write(fs.root + "/cpu/ctr/cpu.stat", "nr_periods 4\nnr_throttled 1\nthrottled_time 0\n")
    _write(fs.root + "/hugetlb/ctr/hugetlb.2MB.usage_in_bytes", "2097152")
    s = m.stats()
    assert s["cpu"]["throttling"] == {"periods": 4, "throttledPeriods": 1}
    assert s["hugetlb"] == {"1GB": {"failcnt": 0}, "2MB": {"usage": 2097152, "failcnt": 0}}


# --- v2 ------------------------------------------------------------------------

@pytest.fixture
def attached(monkeypatch):
    calls = []
    monkeypatch.setattr(dv, "attach_program", lambda d, rules: calls.append((d, list(rules))))
    return calls


def v2_manager(fs, path="/ctr", **kw):
    fs.v2()
    m = cg.new_manager(path, "c", root=fs.root, **kw)
    m.create()
    m.trace = []
    return m


def test_v2_create_enables_controllers(fs):
    fs.v2()
    m = cg.new_manager("/a/b", "c", root=fs.root)
    m.create()
    assert read(fs.root + "/cgroup.subtree_control") == "cpuset cpu io memory hugetlb pids"
    assert read(fs.root + "/a/cgroup.subtree_control").startswith("cpuset")
    assert read(fs.root + "/a/b/cgroup.controllers").split() == [
        "cpuset", "cpu", "io", "memory", "hugetlb", "pids"]
    assert m.created == [fs.root + "/a", fs.root + "/a/b"]


@pytest.mark.parametrize("shares,weight", [(2, 1), (1, 1), (1024, 39), (512, 20),
                                           (262144, 10000), (300000, 10000)])
def test_v2_shares_to_weight(shares, weight):
    assert cgv2.shares_to_weight(shares) == weight


@pytest.mark.parametrize("w,io", [(10, 1), (1000, 10000), (500, 4950), (100, 910)])
def test_v2_blkio_weight_conversion(w, io):
    assert cgv2.blkio_weight_to_io(w) == io


@pytest.mark.parametrize("swap,limit,expect", [
    (256, 128, "128"), (128, 128, "0"), (-1, 128, "max"), (0, -1, "max"),
    (None, -1, "max"), (0, 128, None), (None, None, None)])
def test_v2_swap_conversion(swap, limit, expect):
    assert cgv2.swap_to_v2(swap, limit) == expect


@pytest.mark.parametrize("swap,limit", [(256, 0), (256, -1), (100, 200)])
def test_v2_swap_conversion_errors(swap, limit):
    with pytest.raises(cg.CgroupError):
        cgv2.swap_to_v2(swap, limit)


def test_v2_resource_files(fs, attached):
    m = v2_manager(fs)
    m.apply(Resources(
        memory=Memory(limit=128 << 20, swap=256 << 20, reservation=64 << 20,
                      swappiness=5, kernel=1),
        cpu=CPU(shares=1024, quota=50000, period=100000, burst=500, idle=1, cpus="0",
                mems="0", realtime_runtime=5),
        pids=Pids(limit=-1),
        block_io=BlockIO(weight=500, weight_device=(WeightDevice(major=8, minor=0, weight=100),),
                         throttle_read_bps_device=(ThrottleDevice(major=8, minor=0, rate=600),),
                         throttle_write_iops_device=(ThrottleDevice(major=8, minor=0, rate=30),)),
        hugepage_limits=(HugepageLimit(page_size="2MB", limit=4 << 20),)))
    d = fs.root + "/ctr/"
    assert read(d + "memory.max") == str(128 << 20)
    assert read(d + "memory.swap.max") == str(128 << 20)
    assert read(d + "memory.low") == str(64 << 20)
    assert read(d + "cpu.weight") == "39"
    assert read(d + "cpu.max") == "50000 100000"
    assert read(d + "cpu.max.burst") == "500"
    assert read(d + "cpu.idle") == "1"
    assert read(d + "cpuset.cpus") == "0" and read(d + "cpuset.mems") == "0"
    assert read(d + "pids.max") == "max"
    assert writes(m, "io.weight") == [("io.weight", "4950"), ("io.weight", "8:0 910")]
    assert writes(m, "io.max") == [("io.max", "8:0 rbps=600"), ("io.max", "8:0 wiops=30")]
    assert read(d + "hugetlb.2MB.max") == str(4 << 20)
    assert read(d + "hugetlb.2MB.rsvd.max") == str(4 << 20)
    assert len(m.warnings) == 3          # swappiness, kernel, realtime
    # devices: config rules then defaults, through the eBPF attach
    assert attached == [(fs.root + "/ctr", list(dv.DEFAULT_RULES))]


def test_v2_io_bfq_weight_used_unconverted(fs, attached):
    m = v2_manager(fs)
    _write(fs.root + "/ctr/io.bfq.weight", "default 100")
    m.update(Resources(block_io=BlockIO(weight=500)))
    assert writes(m) == [("io.bfq.weight", "500")]


@pytest.mark.parametrize("cpu,expect", [(CPU(quota=-1, period=100000), "max 100000"),
                                        (CPU(quota=20000), "20000"),
                                        (CPU(period=50000), "max 50000")])
def test_v2_cpu_max(fs, attached, cpu, expect):
    m = v2_manager(fs)
    m.update(Resources(cpu=cpu))
    assert writes(m) == [("cpu.max", expect)]


def test_v2_memory_unlimited_and_check_before_update(fs, attached):
    m = v2_manager(fs)
    m.update(Resources(memory=Memory(limit=-1)))
    assert writes(m) == [("memory.swap.max", "max"), ("memory.max", "max")]
    with pytest.raises(cg.CgroupError, match="below the current usage"):
        m.update(Resources(memory=Memory(limit=100, check_before_update=True)))


def test_v2_unified_keys(fs, attached):
    m = v2_manager(fs)
    m.update(Resources(memory=Memory(limit=1000), unified=frozen(
        {"memory.max": "2000", "cgroup.freeze": "0", "pids.max": "9"})))
    # converted fields first, unified raw after (overrides)
    assert writes(m)[0] == ("memory.max", "1000")
    assert read(fs.root + "/ctr/memory.max") == "2000"
    assert read(fs.root + "/ctr/pids.max") == "9"
    with pytest.raises(cg.CgroupError, match="controller is not available"):
        m.update(Resources(unified=frozen({"rdma.max": "x"})))
    with pytest.raises(cg.CgroupError, match="does not exist"):
        m.update(Resources(unified=frozen({"memory.nonexistent": "1"})))
    for bad in ("../escape", "memory/../../x", "nodot"):
        with pytest.raises(cg.CgroupError, match="invalid"):
            m.update(Resources(unified=frozen({bad: "1"})))


def test_v2_missing_controller_errors(fs, attached):
    fs.v2(controllers=("memory",))
    m = cg.new_manager("/ctr", "c", root=fs.root)
    m.create()
    for r in (Resources(pids=Pids(limit=5)), Resources(cpu=CPU(shares=10)),
              Resources(hugepage_limits=(HugepageLimit(page_size="2MB", limit=1),)),
              Resources(block_io=BlockIO(weight=100))):
        with pytest.raises(cg.CgroupError, match="not available"):
            m.apply(r)
    with pytest.raises(cg.CgroupError, match="net_cls"):
        m.apply(Resources(network=Network(class_id=1)))


def test_v2_freeze_kill_oom_stats(fs, attached, monkeypatch):
    m = v2_manager(fs)
    d = fs.root + "/ctr/"
    _write(d + "cgroup.events", "populated 1\nfrozen 1\n")
    m.freeze()
    assert read(d + "cgroup.freeze") == "1" and m.frozen()
    assert m.freezer_file() == d + "cgroup.freeze"
    _write(d + "cgroup.events", "populated 1\nfrozen 0\n")
    m.thaw()
    assert not m.frozen()
    m.kill_all(signal.SIGKILL)
    assert writes(m, "cgroup.kill") == [("cgroup.kill", "1")]
    assert m.oom_count() == 3
    s = m.stats()
    assert list(s) == ["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt",
                       "network_interfaces"]
    assert s["memory"]["usage"] == {"limit": 18446744073709551615, "usage": 4096,
                                    "failcnt": 2}
    assert s["memory"]["cache"] == 8192
    assert s["pids"] == {"current": 2}
    assert s["cpuset"]["cpus"] == [0, 1]
    assert s["blkio"]["ioServiceBytesRecursive"][0] == {"major": 254, "op": "Read",
                                                        "value": 4096}
    assert s["hugetlb"] == {"1GB": {"failcnt": 0}, "2MB": {"failcnt": 0}}


def test_v2_rdma(fs, attached):
    fs.v2(controllers=("memory", "rdma"))
    m = cg.new_manager("/ctr", "c", root=fs.root)
    m.create()
    m.trace = []
    m.update(Resources(rdma=frozen({"mlx5_1": RdmaLimit(hca_handles=3, hca_objects=10000),
                                    "mlx4_0": RdmaLimit(hca_objects=1000)})))
    assert writes(m) == [("rdma.max", "mlx5_1 hca_handle=3 hca_object=10000"),
                         ("rdma.max", "mlx4_0 hca_object=1000")]


def test_v2_to_dict_round_trip(fs, attached):
    m = v2_manager(fs, "/x/y")
    d = json.loads(json.dumps(m.to_dict()))
    m2 = cg.Manager.from_dict(d)
    assert m2.kind == "v2" and m2.dir("") == fs.root + "/x/y"
    m2.destroy()
    assert os.listdir(fs.root) and not os.path.exists(fs.root + "/x")


# --- hybrid ----------------------------------------------------------------------

def test_hybrid_hugetlb_and_unified_go_to_cgroup2(fs):
    fs.hybrid()
    m = v1_manager(fs, "/a/ctr")
    m.create()
    assert read(fs.root + "/unified/cgroup.subtree_control") == ""     # not at create
    m.apply(Resources(hugepage_limits=(HugepageLimit(page_size="2MB", limit=2 << 20),),
                      unified=frozen({"hugetlb.1GB.max": "0"})))
    assert read(fs.root + "/unified/cgroup.subtree_control") == "hugetlb"
    assert read(fs.root + "/unified/a/cgroup.subtree_control") == "hugetlb"
    assert read(fs.root + "/unified/a/ctr/hugetlb.2MB.max") == str(2 << 20)
    assert read(fs.root + "/unified/a/ctr/hugetlb.1GB.max") == "0"
    with pytest.raises(cg.CgroupError, match="hugetlb.3MB"):
        m.apply(Resources(hugepage_limits=(HugepageLimit(page_size="3MB", limit=1),)))
    with pytest.raises(cg.CgroupError, match="memory cgroup controller, which is not present"):
        m.apply(Resources(unified=frozen({"memory.high": "1"})))
    with pytest.raises(cg.CgroupError, match="rdma"):
        m.apply(Resources(rdma=frozen({"mlx": RdmaLimit(hca_objects=1)})))
    s = m.stats()
    assert set(s["hugetlb"]) == {"2MB", "1GB"}
    m.destroy()
    assert os.listdir(fs.root + "/unified") and not os.path.exists(fs.root + "/unified/a")


# --- eBPF program ----------------------------------------------------------------

def test_bpf_program_encoding():
    p = dv.build_program(dv.DEFAULT_RULES)
    assert len(p) % 8 == 0
    assert p[-8:] == bytes([0x95, 0, 0, 0, 0, 0, 0, 0])          # exit
    assert p[:8] == bytes([0x61, 0x12, 0, 0, 0, 0, 0, 0])         # r2 = *(u32*)(r1+0)
    assert dv.insn(0x55, 4, off=3, imm=136) == bytes([0x55, 0x04, 3, 0, 136, 0, 0, 0])


@pytest.mark.parametrize("dev,expect", [
    (("c", 1, 3, "rw"), 0), (("c", 1, 5, "rw"), 1), (("c", 10, 229, "rw"), 1),
    (("c", 10, 229, "m"), 0), (("b", 8, 0, "r"), 0), (("b", 8, 0, "m"), 0),
    (("c", 136, 7, "rw"), 0)])
def test_bpf_program_semantics_no_defaults(dev, expect):
    rules = [DeviceRule(allow=True, type="c", major=1, minor=None, access="rwm"),
             DeviceRule(allow=True, type="c", major=10, minor=229, access="rw"),
             DeviceRule(allow=False, type="c", major=1, minor=3, access="rwm")]
    assert dv.emulate(dv.build_program(rules), *dev) == expect


def test_bpf_program_last_match_wins_and_defaults():
    rules = [DeviceRule(allow=False, access="rwm"),
             DeviceRule(allow=False, type="c", major=1, minor=3, access="rwm")]
    p = dv.build_program(rules + list(dv.DEFAULT_RULES))
    assert dv.emulate(p, "c", 1, 3, "rw") == 1              # default re-allows null
    assert dv.emulate(p, "b", 254, 0, "r") == 0
    assert dv.emulate(p, "b", 254, 0, "m") == 1              # mknod of any block dev
    assert dv.emulate(p, "c", 136, 9, "rw") == 1
    allow_all = dv.build_program([DeviceRule(allow=True, access="rwm")])
    assert dv.emulate(allow_all, "b", 254, 0, "rwm") == 1
    partial = dv.build_program([DeviceRule(allow=True, type="c", major=1, minor=3,
                                           access="r")])
    assert [dv.emulate(partial, "c", 1, 3, a) for a in ("r", "w", "rw")] == [1, 0, 0]
    deny_w = dv.build_program([DeviceRule(allow=True, access="rwm"),
                               DeviceRule(allow=False, type="c", major=1, minor=3,
                                          access="w")])
    assert [dv.emulate(deny_w, "c", 1, 3, a) for a in ("r", "w", "rw")] == [1, 0, 0]


def test_bpf_rule_validation():
    with pytest.raises(cg.CgroupError):
        dv.build_program([DeviceRule(allow=True, type="x")])
    # other letters than r, w, m are ignored (runtime-spec schema, runc)
    assert dv.rule_line(DeviceRule(allow=True, access="rwx")) == "a *:* rw"
    assert dv.rule_line({"allow": True, "type": "b", "major": 8}) == "b 8:* rwm"
    deny = [DeviceRule(allow=True, access="rwm"),
            DeviceRule(allow=False, type="c", major=1, minor=11, access="rwa"),
            DeviceRule(allow=False, type="c", major=1, minor=3, access="x")]
    prog = dv.build_program(deny)
    assert [dv.emulate(prog, "c", 1, 11, a) for a in ("r", "w", "m")] == [0, 0, 1]
    assert dv.emulate(prog, "c", 1, 3, "rwm") == 1        # "x" takes nothing
    assert ("devices.deny", "c 1:3 ") not in dv.v1_writes(deny, False)
    assert [w for w in dv.v1_writes(deny, False) if "1:3" in w[1]] == []
    assert ("devices.deny", "c 1:11 rw") in dv.v1_writes(deny, False)


class RecordingBackend:
    """A fake bpf(2): checks the attr layouts the loader builds."""

    def __init__(self):
        self.calls = []
        self.mem = {}

    def buffer(self, x):
        b = bytearray(x) if isinstance(x, int) else bytearray(x)
        self.mem[id(b)] = b
        return b

    def address(self, b):
        return id(b)

    def read(self, b, n):
        return bytes(b[:n])

    def bpf(self, cmd, buf, size):
        self.calls.append((cmd, bytes(buf[:size])))
        if cmd == dv.BPF_PROG_QUERY:
            buf[24:28] = (0).to_bytes(4, "little")
            return 0, 0
        if cmd == dv.BPF_PROG_LOAD:
            return os.open("/dev/null", os.O_RDONLY), 0
        return 0, 0


def test_bpf_attach_attr_layout(tmp_path):
    import struct
    b = RecordingBackend()
    rules = [DeviceRule(allow=True, access="rwm")]
    dv.attach_program(str(tmp_path), rules, backend=b)
    cmds = [c for c, _ in b.calls]
    assert cmds == [dv.BPF_PROG_QUERY, dv.BPF_PROG_LOAD, dv.BPF_PROG_ATTACH]
    load = b.calls[1][1]
    assert len(load) == 72
    ptype, cnt = struct.unpack("<II", load[:8])
    assert ptype == dv.BPF_PROG_TYPE_CGROUP_DEVICE
    assert cnt == len(dv.build_program(rules)) // 8
    assert struct.unpack("<I", load[68:72])[0] == dv.BPF_CGROUP_DEVICE
    assert load[48:58] == b"pyrunc_dev"
    att = struct.unpack("<IIIII", b.calls[2][1])
    assert att[2:4] == (dv.BPF_CGROUP_DEVICE, dv.BPF_F_ALLOW_MULTI)


# --- resources model -------------------------------------------------------------

def _config_resources(name):
    return json.loads((CONFIGS / name).read_text())["linux"]["resources"]


def test_parse_resources_full_round_trip():
    d = {"devices": [{"allow": False, "access": "rwm"},
                     {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"}],
         "memory": {"limit": 100, "reservation": 50, "swap": 200, "kernel": -1,
                    "kernelTCP": -1, "swappiness": 0, "disableOOMKiller": False,
                    "useHierarchy": True, "checkBeforeUpdate": True},
         "cpu": {"shares": 1024, "quota": 1000000, "burst": 1000, "period": 500000,
                 "realtimeRuntime": 950000, "realtimePeriod": 1000000, "cpus": "2-3",
                 "mems": "0-7", "idle": 0},
         "pids": {"limit": 32771},
         "blockIO": {"weight": 10, "leafWeight": 10,
                     "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300}],
                     "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                     "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}]},
         "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
         "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
         "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
         "unified": {"io.max": "259:0 rbps=2097152"}}
    r = parse_resources(d)
    assert r.memory.kernel_tcp == -1 and r.memory.swappiness == 0
    assert r.memory.disable_oom_killer is False
    assert r.cpu.realtime_runtime == 950000 and r.cpu.idle == 0
    assert r.block_io.weight_device[0].leaf_weight == 300
    assert r.block_io.throttle_write_iops_device[0].rate == 300
    assert r.block_io.throttle_read_iops_device is None
    assert r.devices[0].type is None and r.devices[1].major == 10
    assert r.network.priorities[0].name == "eth0"
    assert r.rdma["mlx5_1"].hca_objects == 10000
    assert r.unified["io.max"].startswith("259:0")
    assert resources_to_dict(r) == d
    hash(r)
    with pytest.raises(AttributeError):
        r.memory.limit = 5
    with pytest.raises(TypeError):
        r.unified["x"] = "y"
    assert parse_resources(None) is None


@pytest.mark.parametrize("name", ["docker-run-config.json", "podman-run-config.json",
                                  "containerd-run-config.json",
                                  "docker-buildkit-run-config.json",
                                  "buildah-run-step-config.json",
                                  "podman-tty-config.json", "podman-userns-config.json"])
def test_parse_every_caller_config(name, fs):
    lx = json.loads((CONFIGS / name).read_text()).get("linux", {})
    r = parse_resources(lx.get("resources"))
    fs.v1()
    m = cg.new_manager(lx.get("cgroupsPath"), "c", root=fs.root)
    m.create()
    m.apply(r)
    m.destroy()


def test_merge_update_docker_payload():
    current = parse_resources(_config_resources("docker-run-config.json"))
    upd = parse_resources(json.loads((CONFIGS / "docker-update-resources.json").read_text()))
    merged = merge_update(current, upd)
    assert merged.memory.limit == 134217728 and merged.memory.swap == 268435456
    assert merged.memory.reservation is None and merged.memory.kernel is None
    assert merged.memory.disable_oom_killer is False               # kept
    assert merged.cpu.shares == 512
    assert merged.cpu.quota is None and merged.cpu.period is None   # zeros: not set
    assert merged.pids.limit == 77
    assert not merged.block_io.weight                  # 0 in both: never written
    assert merged.devices == current.devices
    # applying the update payload alone writes exactly what runc writes
    s = only_set(upd)
    assert s.memory == Memory(limit=134217728, swap=268435456)
    assert s.cpu == CPU(shares=512)
    assert s.block_io == BlockIO()


def test_merge_update_podman_payload_keeps_existing():
    current = Resources(memory=Memory(limit=1 << 30, reservation=1 << 29),
                        cpu=CPU(shares=1024, quota=50000, period=100000, cpus="0"),
                        pids=Pids(limit=2048))
    upd = parse_resources(json.loads((CONFIGS / "podman-update-resources.json").read_text()))
    merged = merge_update(current, upd)
    assert merged.memory == Memory(limit=134217728, swap=268435456, reservation=1 << 29)
    assert merged.cpu == CPU(shares=512, quota=50000, period=100000, cpus="0")
    assert merged.pids.limit == 2048
    assert merge_update(None, upd).memory.limit == 134217728
    assert merge_update(current, None) == current


def test_merge_update_zero_is_value_fields_and_maps():
    current = Resources(memory=Memory(swappiness=60), cpu=CPU(idle=1),
                        unified=frozen({"a.b": "1", "c.d": "2"}))
    upd = Resources(memory=Memory(swappiness=0), cpu=CPU(idle=0, shares=0),
                    unified=frozen({"a.b": "9"}), pids=Pids(limit=0))
    m = merge_update(current, upd)
    assert m.memory.swappiness == 0 and m.cpu.idle == 0
    assert dict(m.unified) == {"a.b": "9", "c.d": "2"}
    assert m.pids is None                      # pids 0 in an update: not set


def test_update_on_fake_v1_with_docker_payload(fs):
    fs.v1()
    m = v1_manager(fs, "/docker/x")
    m.create()
    upd = parse_resources(json.loads((CONFIGS / "docker-update-resources.json").read_text()))
    m.trace = []
    m.update(only_set(upd))
    assert writes(m) == [("memory.limit_in_bytes", "134217728"),
                         ("memory.memsw.limit_in_bytes", "268435456"),
                         ("cpu.shares", "512"), ("pids.max", "77")]


def test_default_parent_is_removed_by_the_last_container(fs):
    """/pyrunc (the default parent) is pyrunc's whoever made it: when the
    container that created it leaves first, the last one out removes it."""
    fs.v1(("pids", "memory"))
    a = cg.new_manager(None, "a", root=fs.root)
    a.create()
    b = cg.new_manager(None, "b", root=fs.root)
    b.create()
    a.destroy()
    assert os.path.isdir(fs.root + "/pids/pyrunc/b")
    b.destroy()
    assert not os.path.exists(fs.root + "/pids/pyrunc")
    assert not os.path.exists(fs.root + "/memory/pyrunc")
    # an explicit path never touches its parent
    fs.mkdir(fs.root + "/pids/pyrunc")
    fs.mkdir(fs.root + "/memory/pyrunc")
    c = cg.new_manager("/pyrunc/c", "c", root=fs.root)
    c.create()
    c.destroy()
    assert os.path.isdir(fs.root + "/pids/pyrunc")


# --- the systemd driver's pure parts (the real scope: tests/vm) -------------

def test_systemd_unit_and_slice_paths():
    from pyrunc.linux.cgroups import systemd as sd
    assert sd.parse_path("system.slice:pyrunc:c1") == ("system.slice", "pyrunc", "c1")
    for bad in ("", "a:b", "a:b:c:d", "system.slice:pyrunc:"):
        with pytest.raises(cg.CgroupError):
            sd.parse_path(bad)
    assert sd.unit_name("pyrunc", "c1") == "pyrunc-c1.scope"
    assert sd.unit_name("", "c1") == "c1.scope"
    assert sd.expand_slice("system.slice") == "/system.slice"
    assert sd.expand_slice("a-b-c.slice") == "/a.slice/a-b.slice/a-b-c.slice"
    assert sd.expand_slice("-.slice") == ""
    for bad in ("foo", "a--b.slice", "-a.slice", "a/b.slice"):
        with pytest.raises(cg.CgroupError):
            sd.expand_slice(bad)
    m = sd.SystemdManager.new("/sys/fs/cgroup", "machine-pods.slice:pyrunc:x", "x", {}, True)
    assert m.paths == {"": "/machine.slice/machine-pods.slice/pyrunc-x.scope"}
    assert (m.unit, m.slice) == ("pyrunc-x.scope", "machine-pods.slice")
    m = sd.SystemdManager.new("/sys/fs/cgroup", ":pyrunc:x", "x", {}, True)
    assert (m.paths[""], m.slice) == ("/system.slice/pyrunc-x.scope", "system.slice")
    # the state record brings the same driver back
    m2 = cg.Manager.from_dict(m.to_dict())
    assert type(m2) is sd.SystemdManager and m2.unit == m.unit


def test_systemd_properties_from_resources():
    from pyrunc.linux.cgroups import systemd as sd
    res = parse_resources({"memory": {"limit": 64 << 20, "reservation": 32 << 20,
                                      "swap": 128 << 20},
                           "cpu": {"shares": 512, "quota": 50000, "period": 100000},
                           "pids": {"limit": 0}})
    assert dict(sd.properties(res)) == {
        "MemoryMax": ("t", 64 << 20), "MemoryLow": ("t", 32 << 20),
        "MemorySwapMax": ("t", 64 << 20), "CPUWeight": ("t", cgv2.shares_to_weight(512)),
        "CPUQuotaPerSecUSec": ("t", 500000), "CPUQuotaPeriodUSec": ("t", 100000),
        "TasksMax": ("t", 1)}
    res = parse_resources({"memory": {"limit": -1}, "pids": {"limit": -1}})
    assert dict(sd.properties(res)) == {"MemoryMax": ("t", (1 << 64) - 1),
                                        "TasksMax": ("t", (1 << 64) - 1)}
    assert sd.properties(None) == []


def test_systemd_driver_is_refused_without_systemd_or_off_v2(tmp_path):
    with pytest.raises(cg.CgroupError) as e:
        cg.new_manager("system.slice:p:c", "c", root=str(tmp_path), systemd=True,
                       driver="hybrid")
    if os.path.isdir("/run/systemd/system"):
        assert "needs a pure cgroup v2 host" in str(e.value)
    else:
        assert "systemd is not running" in str(e.value)


# --- Warmup: the first-migration wait paid early ------------------------------

def _own_cgroup_file(tmp_path, text):
    f = tmp_path / "self-cgroup"
    f.write_text(text)
    return str(f)


def test_warmup_targets_the_callers_own_cgroup_in_each_layout(tmp_path):
    root = tmp_path / "cg"
    (root / "pids" / "user.slice").mkdir(parents=True)
    (root / "pids" / "user.slice" / "cgroup.procs").write_text("")
    (root / "unified" / "u").mkdir(parents=True)
    (root / "unified" / "u" / "cgroup.procs").write_text("")
    (root / "systemd" / "s").mkdir(parents=True)
    (root / "systemd" / "s" / "cgroup.procs").write_text("")
    # hybrid: first listed hierarchy that exists wins; name=systemd is "systemd"
    f = _own_cgroup_file(tmp_path, "3:memory:/gone\n1:name=systemd:/s\n8:pids:/user.slice\n0::/u\n")
    assert cg.Warmup._target(str(root), f) == str(root / "systemd" / "s" / "cgroup.procs")
    f = _own_cgroup_file(tmp_path, "0::/u\n8:pids:/user.slice\n")
    assert cg.Warmup._target(str(root), f) == str(root / "unified" / "u" / "cgroup.procs")
    # pure v2: cgroup2 at the root itself; the root cgroup is "/"
    (root / "cgroup.controllers").write_text("")
    (root / "cgroup.procs").write_text("")
    assert cg.Warmup._target(str(root), _own_cgroup_file(tmp_path, "0::/\n")) == \
        str(root / "cgroup.procs")
    assert cg.Warmup._target(str(root), _own_cgroup_file(tmp_path, "0::/nowhere\n")) is None


def test_warmup_writes_itself_until_stopped_and_moves_nothing(tmp_path):
    root = tmp_path / "cg"
    (root / "pids" / "a").mkdir(parents=True)
    procs = root / "pids" / "a" / "cgroup.procs"
    procs.write_text("")
    w = cg.Warmup(str(root), _own_cgroup_file(tmp_path, "8:pids:/a\n"))
    assert w.target == str(procs)
    deadline = time.monotonic() + 10
    while w.writes < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    w.stop()
    n = w.writes
    assert n >= 3                       # it repeats while the caller works
    time.sleep(0.02)
    assert w.writes == n                # and stops when told
    assert set(procs.read_text()) == {"0"}   # "0": the writer itself, no other pid
    w.stop()                            # twice is harmless


def test_warmup_gives_up_quietly_where_it_cannot_write(tmp_path):
    root = tmp_path / "cg"
    (root / "pids" / "ro").mkdir(parents=True)
    (root / "pids" / "ro" / "cgroup.procs").mkdir()      # EISDIR on open
    w = cg.Warmup(str(root), _own_cgroup_file(tmp_path, "8:pids:/ro\n"))
    w.stop()
    assert w.writes == 0
    w = cg.Warmup(str(root), str(tmp_path / "no-such-file"))
    assert w.target is None
    w.stop()


def test_warmup_on_this_host_is_a_real_no_op_migration():
    before = open("/proc/self/cgroup").read()
    w = cg.Warmup()
    assert w.target is not None and w.target.endswith("/cgroup.procs")
    deadline = time.monotonic() + 10
    while w.writes < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    w.stop()
    assert w.writes >= 2
    assert open("/proc/self/cgroup").read() == before


@pytest.mark.skipif(os.geteuid() != 0, reason="the CLI starts it for root only")
@pytest.mark.parametrize("argv, started", [
    (["exec", "no-such-container", "true"], 1),
    (["create", "--bundle", "/nonexistent", "x"], 1),
    (["exec", "--help"], 0),
    (["state", "no-such-container"], 0),
])
def test_the_cli_starts_the_warmup_before_a_command_that_migrates(tmp_path, monkeypatch,
                                                                  argv, started):
    """The first write waits a grace period while holding the cgroup mutex:
    the CLI starts it as soon as it knows the command, before that
    command's imports; create and exec take that one over (take_warmup)
    rather than starting a second."""
    from pyrunc import cli
    made = []

    class Fake:
        def __init__(self):
            self.stopped = False
            made.append(self)

        def stop(self):
            self.stopped = True
    monkeypatch.setattr(cg, "Warmup", Fake)
    assert cg._started is None
    try:
        cli.main(["--root", str(tmp_path / "root")] + argv)
        assert len(made) == started
        if argv[0] == "create":
            assert made[0].stopped and cg._started is None     # taken and stopped
    finally:
        cg.stop_warmup()
    assert cg._started is None and all(w.stopped for w in made)


def test_exec_cgroup_arguments_parse_as_runc():
    assert cg.parse_sub_cgroups(None) == {}
    assert cg.parse_sub_cgroups(["sub"]) == {"": "sub"}
    assert cg.parse_sub_cgroups(["memory:m", "cpu,cpuacct:c"]) == \
        {"memory": "m", "cpu": "c", "cpuacct": "c"}
    for bad, msg in ((["a", "b"], "multiple paths specified for all controllers"),
                     ([",cpu:x"], "empty <controller> prefix"),
                     (["cpu:a", "cpu,memory:b"], "controller cpu specified multiple times")):
        with pytest.raises(cg.CgroupError, match=msg):
            cg.parse_sub_cgroups(bad)


def test_exec_dirs_per_hierarchy(fs):
    fs.v1()
    m = v1_manager(fs, "/a/b", create=False)
    base = {k: m.dir(k) for k in m.paths}
    assert m.exec_dirs({}) == base
    d = m.exec_dirs({"memory": "sub", "": "all"})
    for k in m.paths:
        assert d[k] == base[k] + ("/sub" if k == "memory" else "/all")
    assert m.exec_dirs({"": "/"}) == base
    with pytest.raises(cg.CgroupError, match="bad sub cgroup path: ../x"):
        m.exec_dirs({"": "../x"})
    with pytest.raises(cg.CgroupError, match="unknown controller nope"):
        m.exec_dirs({"nope": "x"})


def test_v1_rt_period_and_runtime_in_an_order_the_kernel_takes(fs, monkeypatch):
    """The kernel refuses an rt runtime above the rt period at every write:
    lowering both writes the runtime first, raising both the period first
    (runc #4094)."""
    fs.v1()
    m = v1_manager(fs)
    d = fs.root + "/cpu/ctr/"
    real = cg.write_file

    def kernel(path, data):
        name = os.path.basename(path)
        if name in ("cpu.rt_period_us", "cpu.rt_runtime_us"):
            new = {n: int(read(d + n)) for n in ("cpu.rt_period_us", "cpu.rt_runtime_us")}
            new[name] = int(data)
            if new["cpu.rt_runtime_us"] > new["cpu.rt_period_us"]:
                raise cg.CgroupError("write %r to %s: invalid argument" % (data, path))
        real(path, data)
    monkeypatch.setattr(cg, "write_file", kernel)
    for period, runtime in ((900001, 600001), (10000, 3000), (100000, 20000)):
        m.update(Resources(cpu=CPU(realtime_period=period, realtime_runtime=runtime)))
        assert (read(d + "cpu.rt_period_us"), read(d + "cpu.rt_runtime_us")) == \
            (str(period), str(runtime))


def test_update_cpu_burst_zero_is_written():
    """`update --cpu-burst 0` turns burst off (runc); absent keeps it."""
    from pyrunc.config.resources import merge_update, only_set
    cur = Resources(cpu=CPU(period=900000, burst=500000))
    assert merge_update(cur, Resources(cpu=CPU(burst=0))).cpu.burst == 0
    assert only_set(Resources(cpu=CPU(burst=0))).cpu.burst == 0
    assert merge_update(cur, Resources(cpu=CPU(shares=2))).cpu.burst == 500000


def test_v2_plan_is_apply_run_dry(fs, attached):
    """Manager.plan: apply's writes, recorded and not done, for a cgroup
    not made yet; the root lacks the controllers' files (hugetlb.*), which
    a cgroup below it shows; nothing is made or attached."""
    fs.v2()
    cg.new_manager("/other", "o", root=fs.root).create()
    m = cg.new_manager("/a/b", "c", root=fs.root)
    before = sorted(os.listdir(fs.root))
    plan = m.plan(Resources(memory=Memory(limit=64 << 20), cpu=CPU(shares=512),
                            pids=Pids(limit=10),
                            hugepage_limits=(HugepageLimit(page_size="2MB", limit=2 << 20),)))
    assert sorted(os.listdir(fs.root)) == before and attached == []
    writes = {os.path.relpath(f, fs.root): v for f, v in plan["writes"] if "eBPF" not in f}
    assert writes["a/b/memory.max"] == str(64 << 20)
    assert writes["a/b/cpu.weight"] == "20"
    assert writes["a/b/pids.max"] == "10"
    assert writes["a/b/hugetlb.2MB.max"] == str(2 << 20)
    assert plan["mkdir"] == [fs.root + "/a", fs.root + "/a/b"]
    rules = [v for f, v in plan["writes"] if "eBPF" in f]
    assert len(rules) == 1 and "allow c 1:3 rwm" in rules[0]
