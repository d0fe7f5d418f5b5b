"""Real cgroup tests on this host (hybrid: v1 hierarchies + cgroup2 at
/sys/fs/cgroup/unified).  They need root.  Every cgroup is made under
``/pyrunc-test-<random>`` and removed in the fixtures' teardown; every
process started is killed."""

import os
import secrets
import signal
import subprocess
import sys
import time

import pytest

from pyrunc.config.resources import Resources, Memory, Pids, DeviceRule, HugepageLimit
from pyrunc.linux import cgroups as cg
from pyrunc.linux.cgroups import devices as dv

ROOT = "/sys/fs/cgroup"
UNIFIED = ROOT + "/unified"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not os.path.isdir(ROOT) or cg.detect(ROOT) != "hybrid",
                       reason="written for this hybrid cgroup host"),
]


def _shim_available():
    try:
        from pyrunc._shim import lib
        return hasattr(lib, "pyrunc_bpf")
    except ImportError:
        return False


needs_shim = pytest.mark.skipif(not _shim_available(),
                                reason="pyrunc._shim (pyrunc_bpf) is not built")


def _sweep(name):
    """Safety net: remove anything left under any hierarchy for ``name``."""
    for h in os.listdir(ROOT):
        top = os.path.join(ROOT, h) + name
        if not os.path.isdir(top):
            continue
        for d, subdirs, _ in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
            try:
                with open(d + "/cgroup.procs") as f:
                    for pid in f.read().split():
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                        except ProcessLookupError:
                            pass
            except OSError:
                pass
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def _leftovers(name):
    return [os.path.join(ROOT, h) + name for h in os.listdir(ROOT)
            if os.path.exists(os.path.join(ROOT, h) + name)]


@pytest.fixture
def unified_restore():
    """Put the unified root's cgroup.subtree_control back as it was."""
    before = open(UNIFIED + "/cgroup.subtree_control").read().split()
    yield
    now = open(UNIFIED + "/cgroup.subtree_control").read().split()
    for c in now:
        if c not in before:
            try:
                with open(UNIFIED + "/cgroup.subtree_control", "w") as f:
                    f.write("-" + c)
            except OSError:
                pass


@pytest.fixture
def name():
    n = "/pyrunc-test-" + secrets.token_hex(4)
    yield n
    _sweep(n)
    assert _leftovers(n) == []


@pytest.fixture
def procs():
    started = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)
        for s in (p.stdin, p.stdout, p.stderr):
            if s:
                s.close()


def _teardown(m):
    try:
        if m.frozen():
            m.thaw()
    except cg.CgroupError:
        pass
    try:
        m.kill_all(signal.SIGKILL)
    except cg.CgroupError:
        pass
    deadline = time.monotonic() + 10
    while m.pids() and time.monotonic() < deadline:
        time.sleep(0.02)
    m.destroy()


@pytest.fixture
def mgr(name, procs, unified_restore):
    m = cg.new_manager(name, "t", root=ROOT)
    m.create()
    yield m
    _teardown(m)


@pytest.fixture
def v2mgr(name, procs, unified_restore):
    """The v2 driver on the real cgroup2 mount (only hugetlb is bound there)."""
    m = cg.new_manager(name, "t", root=UNIFIED)
    assert m.kind == "v2"
    m.create()
    yield m
    _teardown(m)


def start(procs, code):
    """A python child that waits for a line on stdin before running ``code``,
    so it can be moved into the cgroup first."""
    p = subprocess.Popen([sys.executable, "-c",
                          "import os, sys, time\nsys.stdin.readline()\n" + code],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    procs.append(p)
    return p


def go(p, timeout=30):
    p.stdin.write(b"go\n")
    p.stdin.flush()
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out.decode(), err.decode()


def sleeper(procs):
    p = subprocess.Popen(["sleep", "300"])
    procs.append(p)
    return p


def own_cgroup_lines(pid):
    with open("/proc/%d/cgroup" % pid) as f:
        return f.read().splitlines()


OPEN_DEVS = """
for dev in ("/dev/null", "/dev/zero"):
    try:
        open(dev, "rb").close()
        print(dev, "ok")
    except PermissionError:
        print(dev, "EPERM")
"""


# --- v1 / hybrid -----------------------------------------------------------------

def test_create_join_memory_limit(mgr, name, procs):
    p = sleeper(procs)
    mgr.add_pid(p.pid)
    assert mgr.pids() == [p.pid]
    lines = own_cgroup_lines(p.pid)
    for want in ("memory:" + name, "pids:" + name, "name=systemd:" + name,
                 "devices:" + name, "0::" + name):
        assert any(line.endswith(want) for line in lines), (want, lines)
    mgr.apply(Resources(memory=Memory(limit=64 << 20)))
    with open(ROOT + "/memory" + name + "/memory.limit_in_bytes") as f:
        assert int(f.read()) == 64 << 20
    # kernelTCP is honoured on this kernel (conformance notes)
    mgr.update(Resources(memory=Memory(kernel_tcp=50593792)))
    with open(ROOT + "/memory" + name + "/memory.kmem.tcp.limit_in_bytes") as f:
        assert int(f.read()) == 50593792


def test_oom_kill_is_counted(mgr, procs):
    mgr.apply(Resources(memory=Memory(limit=20 << 20, swap=20 << 20)))
    assert mgr.oom_count() == 0
    p = start(procs, "x = b'x' * (100 << 20)\nprint('survived')")
    mgr.add_pid(p.pid)
    rc, out, _ = go(p)
    assert rc == -signal.SIGKILL and "survived" not in out
    assert mgr.oom_count() >= 1
    s = mgr.stats()
    assert s["memory"]["usage"]["limit"] == 20 << 20
    # the peak reached the limit (this kernel leaves memory.failcnt at 0)
    assert s["memory"]["usage"]["max"] == 20 << 20


def test_pids_limit_stops_forks(mgr, procs):
    mgr.apply(Resources(pids=Pids(limit=3)))
    p = start(procs, """
kids = []
for i in range(10):
    try:
        pid = os.fork()
    except OSError:
        continue
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    kids.append(pid)
print(len(kids), flush=True)
for k in kids:
    os.kill(k, 9)
    os.waitpid(k, 0)
""")
    mgr.add_pid(p.pid)
    rc, out, err = go(p)
    assert rc == 0, err
    assert int(out) == 2               # the parent counts: 1 + 2 = pids.max


def _size(path):
    return os.path.getsize(path)


def test_freeze_thaw(mgr, procs, tmp_path):
    out = tmp_path / "ticks"
    p = start(procs, """
with open(%r, "w") as f:
    while True:
        f.write("x"); f.flush(); time.sleep(0.005)
""" % str(out))
    mgr.add_pid(p.pid)
    p.stdin.write(b"go\n")
    p.stdin.flush()
    deadline = time.monotonic() + 10
    while (not out.exists() or _size(out) < 5) and time.monotonic() < deadline:
        time.sleep(0.01)
    mgr.freeze()
    assert mgr.frozen()
    with open(mgr.freezer_file()) as f:
        assert f.read().strip() == "FROZEN"
    n = _size(out)
    time.sleep(0.3)
    assert _size(out) == n                      # no progress while frozen
    mgr.thaw()
    assert not mgr.frozen()
    deadline = time.monotonic() + 5
    while _size(out) == n and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _size(out) > n


def test_v1_device_deny(mgr, procs):
    mgr.apply(Resources(devices=(DeviceRule(allow=True, type="c", major=1, minor=5,
                                            access="rwm"),
                                 DeviceRule(allow=False, type="c", major=1, minor=3,
                                            access="rwm"))),
              default_devices=False)
    p = start(procs, OPEN_DEVS)
    mgr.add_pid(p.pid)
    rc, out, err = go(p)
    assert rc == 0, err
    assert "/dev/null EPERM" in out and "/dev/zero ok" in out


def test_v1_device_list_order(mgr, name):
    rules = (DeviceRule(allow=False, access="rwm"),
             DeviceRule(allow=True, type="c", major=10, minor=229, access="rwm"),
             DeviceRule(allow=True, type="b", major=8, minor=20, access="rw"),
             DeviceRule(allow=True, type="b", major=10, minor=200, access="r"))
    mgr.apply(Resources(devices=rules))
    with open(ROOT + "/devices" + name + "/devices.list") as f:
        lst = f.read().splitlines()
    assert lst[:3] == ["c 10:229 rwm", "b 8:20 rw", "b 10:200 r"]
    assert "c 1:3 rwm" in lst and "c *:* m" in lst


def test_kill_all(mgr, procs):
    a, b = sleeper(procs), sleeper(procs)
    mgr.add_pid(a.pid)
    mgr.add_pid(b.pid)
    assert mgr.pids() == sorted([a.pid, b.pid])
    mgr.kill_all(signal.SIGKILL)
    assert a.wait(timeout=10) == -signal.SIGKILL
    assert b.wait(timeout=10) == -signal.SIGKILL
    assert mgr.pids() == []
    assert not mgr.frozen()


def test_stats_shape(mgr, procs):
    p = sleeper(procs)
    mgr.add_pid(p.pid)
    s = mgr.stats()
    assert list(s) == ["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt",
                       "network_interfaces"]
    assert s["pids"]["current"] == 1
    assert s["cpuset"]["cpus"] == list(range(os.cpu_count()))
    assert set(s["memory"]) >= {"usage", "swap", "kernel", "kernelTCP"}
    import json
    json.dumps(s)


def test_hybrid_hugetlb_on_cgroup2(mgr, name):
    mgr.apply(Resources(hugepage_limits=(HugepageLimit(page_size="2MB", limit=4 << 20),)))
    with open(UNIFIED + name + "/hugetlb.2MB.max") as f:
        assert int(f.read()) == 4 << 20
    assert "2MB" in mgr.stats()["hugetlb"]
    with pytest.raises(cg.CgroupError, match="3MB"):
        mgr.apply(Resources(hugepage_limits=(HugepageLimit(page_size="3MB", limit=1),)))


def test_missing_controller_is_an_error(mgr):
    from pyrunc.config.resources import Network
    with pytest.raises(cg.CgroupError, match="net_cls"):
        mgr.apply(Resources(network=Network(class_id=1048577)))


def test_destroy_leaves_nothing_and_keeps_preexisting(name, procs):
    # a pre-existing parent (not ours) in the pids hierarchy must survive
    os.mkdir(ROOT + "/pids" + name)
    try:
        m = cg.new_manager(name + "/ctr", "t", root=ROOT)
        m.create()
        p = sleeper(procs)
        m.add_pid(p.pid)
        rec = m.to_dict()
        m2 = cg.Manager.from_dict(rec)            # as a later `delete` would
        m2.kill_all(signal.SIGKILL)
        p.wait(timeout=10)
        m2.destroy()
        assert m2.created == []
        assert os.path.isdir(ROOT + "/pids" + name)
        assert not os.path.exists(ROOT + "/pids" + name + "/ctr")
        assert _leftovers(name) == [ROOT + "/pids" + name]
    finally:
        os.rmdir(ROOT + "/pids" + name)
    assert _leftovers(name) == []


# --- the v2 driver on the real cgroup2 mount ---------------------------------------

def _attached(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return dv.query_programs(fd, dv.ShimBackend())
    finally:
        os.close(fd)


@needs_shim
def test_v2_ebpf_device_program(v2mgr, procs):
    d = v2mgr.dir("")
    v2mgr.apply(Resources(devices=(DeviceRule(allow=True, access="rwm"),
                                   DeviceRule(allow=False, type="c", major=1, minor=3,
                                              access="rwm"))),
                default_devices=False)
    assert len(_attached(d)) == 1
    p = start(procs, OPEN_DEVS)
    v2mgr.add_pid(p.pid)
    rc, out, err = go(p)
    assert rc == 0, err
    assert "/dev/null EPERM" in out and "/dev/zero ok" in out
    # a new program replaces the old one
    v2mgr.apply(Resources(devices=(DeviceRule(allow=True, type="c", major=1, minor=3,
                                              access="rw"),)), default_devices=False)
    assert len(_attached(d)) == 1
    p = start(procs, OPEN_DEVS)
    v2mgr.add_pid(p.pid)
    rc, out, err = go(p)
    assert rc == 0, err
    assert "/dev/null ok" in out and "/dev/zero EPERM" in out


@needs_shim
def test_v2_ebpf_default_rules(v2mgr, procs):
    v2mgr.apply(None)                               # deny-all + runtime defaults
    p = start(procs, OPEN_DEVS + """
for dev in ("/dev/vda", "/dev/kmsg"):
    if os.path.exists(dev):
        try:
            open(dev, "rb").close()
            print(dev, "ok")
        except PermissionError:
            print(dev, "EPERM")
""")
    v2mgr.add_pid(p.pid)
    rc, out, err = go(p)
    assert rc == 0, err
    assert "/dev/null ok" in out and "/dev/zero ok" in out
    assert " ok" not in out.replace("/dev/null ok", "").replace("/dev/zero ok", "")


def test_v2_freeze_kill_hugetlb_on_real_cgroup2(v2mgr, procs):
    d = v2mgr.dir("")
    a = sleeper(procs)
    v2mgr.add_pid(a.pid)
    assert v2mgr.pids() == [a.pid]
    v2mgr.freeze()
    assert v2mgr.frozen()
    with open(d + "/cgroup.events") as f:
        assert "frozen 1" in f.read()
    v2mgr.thaw()
    assert not v2mgr.frozen()
    v2mgr.apply(Resources(hugepage_limits=(HugepageLimit(page_size="2MB", limit=2 << 20),)),
                default_devices=False)
    with open(d + "/hugetlb.2MB.max") as f:
        assert int(f.read()) == 2 << 20
    with pytest.raises(cg.CgroupError, match="memory cgroup controller"):
        v2mgr.apply(Resources(memory=Memory(limit=1 << 20)), default_devices=False)
    v2mgr.kill_all(signal.SIGKILL)                  # cgroup.kill
    assert a.wait(timeout=10) == -signal.SIGKILL
    assert v2mgr.pids() == []
