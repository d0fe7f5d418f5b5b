"""Real containers on a pure cgroup v2 host (the VM lane, tests/vm/run, or
any v2 machine): every limit read back from the container's cgroup files
after the v1 -> v2 conversions, update, pause/resume through cgroup.freeze,
events and OOM, the pids limit, eBPF device rules, nested paths, a delegated
subtree, a frozen target, cleanup. The whole module is skipped, before
anything is made, elsewhere (this development machine is
hybrid: tests/test_cgroups_cli.py and test_cgroups_host.py cover it)."""
import json
import os
import subprocess
import time

import pytest

from conftest import CONFIGS, PYRUNC, unique_id, wait_for

CG = "/sys/fs/cgroup"
MIB = 1 << 20


def _pure_v2():
    try:
        from pyrunc.linux import cgroups
        return cgroups.detect(CG) == "v2"
    except Exception:
        return False


pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (real containers)"),
    pytest.mark.skipif(not _pure_v2(), reason="needs a pure cgroup v2 host (tests/vm/run)"),
]


def cgdir(bundle):
    return CG + json.loads((bundle / "config.json").read_text())["linux"]["cgroupsPath"]


def read(bundle, name):
    with open(cgdir(bundle) + "/" + name) as f:
        return f.read().strip()


def resources(**res):
    def edit(cfg):
        cfg["linux"].setdefault("resources", {}).update(res)
    return edit


def weight(shares):
    from pyrunc.linux.cgroups.v2 import shares_to_weight
    return str(shares_to_weight(shares))


def test_limits_are_converted_and_written(rt, make_bundle):
    b = make_bundle(["probe", "sleep", "60"], resources(
        memory={"limit": 256 * MIB, "reservation": 64 * MIB, "swap": 512 * MIB},
        cpu={"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0"},
        pids={"limit": 100}))
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    assert read(b, "memory.max") == str(256 * MIB)
    assert read(b, "memory.low") == str(64 * MIB)
    if os.path.exists(cgdir(b) + "/memory.swap.max"):
        assert read(b, "memory.swap.max") == str(256 * MIB)      # swap - limit
    assert read(b, "cpu.weight") == weight(1024)
    assert read(b, "cpu.max") == "50000 100000"
    assert read(b, "cpuset.cpus") == "0"
    assert read(b, "pids.max") == "100"
    # the container's init is in it
    assert str(rt.state(cid)["pid"]) in read(b, "cgroup.procs").split()
    rt.ok("delete", "--force", cid)
    assert not os.path.exists(cgdir(b))


def test_unlimited_values_and_unified_keys(rt, make_bundle):
    b = make_bundle(["probe", "sleep", "60"], resources(
        memory={"limit": -1}, pids={"limit": -1},
        unified={"memory.high": str(200 * MIB), "pids.max": "50"}))
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    assert read(b, "memory.max") == "max"
    assert read(b, "memory.high") == str(200 * MIB)
    assert read(b, "pids.max") == "50"        # unified comes after the converted fields
    rt.ok("delete", "--force", cid)


def test_unified_key_for_a_missing_controller_is_an_error(rt, make_bundle):
    b = make_bundle(["true"], resources(unified={"nosuch.max": "1"}))
    r = rt.cmd("run", "--bundle", b, unique_id())
    assert r.returncode == 1 and "nosuch" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert rt.ids() == [] and not os.path.exists(cgdir(b))


def test_update_with_docker_and_podman_payloads_and_flags(rt, make_bundle, tmp_path):
    b = make_bundle(["probe", "sleep", "60"], resources(
        memory={"limit": 256 * MIB}, cpu={"shares": 1024}, pids={"limit": 100}))
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    p = subprocess.run(PYRUNC + ["--root", rt.root, "update", "--resources", "-", cid],
                       input=(CONFIGS / "docker-update-resources.json").read_bytes(),
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert read(b, "memory.max") == str(128 * MIB)
    assert read(b, "cpu.weight") == weight(512)
    assert read(b, "pids.max") == "77"
    rt.ok("update", "--memory", "64m", "--cpu-quota", "20000", "--cpu-period", "100000",
          "--pids-limit", "10", cid)
    assert read(b, "memory.max") == str(64 * MIB)
    assert read(b, "cpu.max") == "20000 100000"
    assert read(b, "pids.max") == "10"
    pf = tmp_path / "podman.json"
    pf.write_bytes((CONFIGS / "podman-update-resources.json").read_bytes())
    rt.ok("update", "--resources=%s" % pf, cid)
    assert read(b, "memory.max") == str(128 * MIB)
    assert read(b, "pids.max") == "10"          # untouched
    rt.ok("delete", "--force", cid)


def test_pause_and_resume_freeze_the_processes(rt, make_bundle, tmp_path):
    data = tmp_path / "data"
    data.mkdir()

    def bind(c):
        c["mounts"].append({"destination": "/data", "type": "bind", "source": str(data),
                            "options": ["rbind", "rw"]})
    b = make_bundle(["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /data/n; "
                     "sleep 0.05; done"], bind)
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)

    def value():
        try:
            return int((data / "n").read_text() or 0)
        except (ValueError, FileNotFoundError):
            return 0
    assert wait_for(lambda: value() > 2)
    rt.ok("pause", cid)
    assert rt.state(cid)["status"] == "paused"
    assert read(b, "cgroup.freeze") == "1"
    assert "frozen 1" in read(b, "cgroup.events").splitlines()
    v = value()
    time.sleep(0.5)
    assert value() == v
    r = rt.cmd("exec", cid, "true")
    assert r.returncode == 255 and "--ignore-paused" in r.stderr
    rt.ok("resume", cid)
    assert read(b, "cgroup.freeze") == "0"
    assert wait_for(lambda: value() > v + 2)
    rt.ok("delete", "--force", cid)


def test_events_stats(rt, make_bundle):
    b = make_bundle(["probe", "sleep", "60"], resources(memory={"limit": 256 * MIB},
                                                        pids={"limit": 64}))
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    ev = json.loads(rt.ok("events", "--stats", cid).stdout)
    assert ev["type"] == "stats" and ev["id"] == cid
    d = ev["data"]
    assert d["pids"]["current"] >= 1 and d["pids"]["limit"] == 64
    assert d["memory"]["usage"]["usage"] > 0
    assert d["memory"]["usage"]["limit"] == 256 * MIB
    assert d["cpu"]["usage"]["total"] > 0
    rt.ok("delete", "--force", cid)


def test_oom_kill_is_reported_by_events(rt, make_bundle, tmp_path):
    b = make_bundle(["probe", "sleep", "60"], resources(memory={"limit": 24 * MIB,
                                                                "swap": 24 * MIB}))
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    out = tmp_path / "events.out"
    with open(out, "w") as f:
        p = subprocess.Popen(PYRUNC + ["--root", rt.root, "events", "--interval", "200ms", cid],
                             stdout=f, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: out.read_text().count("\n") >= 1, timeout=30)
        r = rt.cmd("exec", cid, "dd", "if=/dev/zero", "of=/dev/null", "bs=100M", "count=1",
                   timeout=120)
        assert r.returncode == 137, (r.returncode, r.stderr)
        assert wait_for(lambda: '"type":"oom"' in out.read_text(), timeout=15)
        events = dict(ln.split() for ln in read(b, "memory.events").splitlines())
        assert int(events["oom_kill"]) >= 1
        rt.ok("kill", cid, "KILL")
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    rt.ok("delete", cid)


def test_fork_bomb_stops_at_the_pids_limit(rt, make_bundle):
    b = make_bundle(["probe", "sleep", "60"], resources(pids={"limit": 16}))
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    assert read(b, "pids.max") == "16"
    rt.cmd("exec", cid, "sh", "-c", "for i in $(seq 40); do sleep 5 & done; wait", timeout=120)
    assert int(read(b, "pids.current")) <= 16
    events = dict(ln.split() for ln in read(b, "pids.events").splitlines())
    assert int(events["max"]) >= 1
    rt.ok("delete", "--force", cid)


def test_ebpf_device_rules(rt, make_bundle):
    """deny-all, the config's rules, the defaults: /dev/null works, /dev/mem
    (1:1, made inside with mknod) cannot be opened, an allowed rule works."""
    def dev(c):
        c["linux"]["resources"]["devices"] = [
            {"allow": False, "access": "rwm"},
            {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"}]
        c["process"]["capabilities"]["bounding"].append("CAP_MKNOD")
        c["process"]["capabilities"]["effective"].append("CAP_MKNOD")
        c["process"]["capabilities"]["permitted"].append("CAP_MKNOD")
    # the nodes go on /dev (a tmpfs without nodev), not on the image
    b = make_bundle(["sh", "-c", "mknod /dev/mem c 1 1; mknod /dev/full2 c 1 7; "
                     "head -c1 /dev/mem >/dev/null 2>&1 && echo mem-ok || echo mem-denied; "
                     "head -c1 /dev/full2 >/dev/null 2>&1 && echo full-ok || echo full-denied; "
                     "echo x > /dev/null && echo null-ok"], dev)
    out = rt.ok("run", "--bundle", b, unique_id()).stdout.split()
    assert out == ["mem-denied", "full-ok", "null-ok"]


# (relative cgroupsPaths are placed below pyrunc's own cgroup; under a
# systemd service that is not delegated the kernel refuses that migration,
# as it would for runc: they are covered by the unit tests on fake trees and
# on the hybrid host, not here)
@pytest.mark.parametrize("path", ["nested/a/b", "one"])
def test_nested_paths(rt, make_bundle, path):
    from conftest import CGROUP_PARENT

    def edit(c):
        c["linux"]["cgroupsPath"] = "/%s/%s/%s" % (CGROUP_PARENT, path, unique_id())
        c["linux"]["resources"] = {"pids": {"limit": 20}}
    b = make_bundle(["probe", "sleep", "60"], edit)
    cid = unique_id()
    rt.ok("create", "--bundle", b, cid)
    assert str(rt.state(cid)["pid"]) in read(b, "cgroup.procs").split()
    assert read(b, "pids.max") == "20"
    rt.ok("delete", "--force", cid)
    assert not os.path.exists(cgdir(b))
    # the levels pyrunc made for it went too
    assert not os.path.exists(CG + "/%s/%s" % (CGROUP_PARENT, path.split("/")[0]))


def test_delegated_subtree_is_writable_and_removed(rt, make_bundle):
    """A cgroup namespace and a rw cgroup2 mount: the container makes its own
    sub-cgroup (as systemd in a container does); delete removes it too."""
    def edit(c):
        if not any(n["type"] == "cgroup" for n in c["linux"]["namespaces"]):
            c["linux"]["namespaces"].append({"type": "cgroup"})
        for m in c["mounts"]:
            if m["type"] == "cgroup":
                m["type"] = "cgroup2"
                m["options"] = [o for o in m["options"] if o != "ro"] + ["rw"]
    b = make_bundle(["sh", "-c", "cat /proc/self/cgroup; mkdir /sys/fs/cgroup/sub && "
                     "echo $$ > /sys/fs/cgroup/sub/cgroup.procs && cat /proc/self/cgroup; "
                     "sleep 30"], edit)
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    assert wait_for(lambda: os.path.isdir(cgdir(b) + "/sub"), timeout=20)
    rt.ok("delete", "--force", cid)
    assert not os.path.exists(cgdir(b))


def test_frozen_target_cgroup_is_refused(rt, make_bundle):
    b = make_bundle(["true"])
    d = cgdir(b)
    os.makedirs(d)
    with open(d + "/cgroup.freeze", "w") as f:
        f.write("1")
    try:
        t = time.monotonic()
        r = rt.cmd("run", "--bundle", b, unique_id(), timeout=60)
        assert time.monotonic() - t < 20
        assert r.returncode == 1 and "container's cgroup unexpectedly frozen" in r.stderr, r.stderr
        assert rt.ids() == []
    finally:
        with open(d + "/cgroup.freeze", "w") as f:
            f.write("0")
        os.rmdir(d)


def test_kill_all_and_cleanup(rt, make_bundle):
    b = make_bundle(["sh", "-c", "sleep 100 & sleep 100 & wait"], lambda c: c["linux"][
        "namespaces"].remove({"type": "pid"}))
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    assert wait_for(lambda: len(read(b, "cgroup.procs").split()) == 3)
    rt.ok("kill", "--all", cid, "KILL")
    assert wait_for(lambda: rt.state(cid)["status"] == "stopped")
    rt.ok("delete", cid)
    assert not os.path.exists(cgdir(b))
