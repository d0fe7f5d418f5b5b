"""The systemd cgroup driver with a real systemd (the VM lane:
`tests/vm/run --systemd -- ...`): a container created with
--systemd-cgroup and cgroupsPath slice:prefix:name is the transient scope
prefix-name.scope in that slice, with the limits as unit properties and in
its cgroup files; update changes both; delete stops the unit. Skipped,
before anything is made, where systemd does not run on cgroup v2."""
import os
import subprocess

import pytest

from conftest import unique_id, wait_for

CG = "/sys/fs/cgroup"
MIB = 1 << 20


def _systemd_v2():
    try:
        from pyrunc.linux import cgroups
        return cgroups.detect(CG) == "v2" and os.path.isdir("/run/systemd/system")
    except Exception:
        return False


pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (real containers)"),
    pytest.mark.skipif(not _systemd_v2(), reason="needs systemd on cgroup v2 "
                       "(tests/vm/run --systemd)"),
]


def show(unit, *props):
    out = subprocess.run(["systemctl", "show", unit] + ["-p" + p for p in props],
                         capture_output=True, text=True, timeout=30).stdout
    return dict(ln.split("=", 1) for ln in out.splitlines() if "=" in ln)


def sd(rt, *args, **kw):
    return rt.cmd("--systemd-cgroup", *args, **kw)


def bundle(make_bundle, name, res=None, args=("probe", "sleep", "120"), slice_="system.slice"):
    def edit(c):
        c["linux"]["cgroupsPath"] = "%s:pyrunc:%s" % (slice_, name)
        if res:
            c["linux"]["resources"].update(res)
    return make_bundle(list(args), edit)


def test_scope_with_memory_limit_and_gone_after_delete(rt, make_bundle):
    name = unique_id("sd")
    b = bundle(make_bundle, name, {"memory": {"limit": 64 * MIB}, "pids": {"limit": 50},
                                   "cpu": {"shares": 512}})
    cid = unique_id()
    r = sd(rt, "run", "-d", "--bundle", b, cid)
    assert r.returncode == 0, r.stderr
    unit = "pyrunc-%s.scope" % name
    p = show(unit, "ActiveState", "MemoryMax", "TasksMax", "Delegate", "ControlGroup",
             "CPUWeight")
    assert p["ActiveState"] == "active"
    assert p["MemoryMax"] == str(64 * MIB)
    assert p["TasksMax"] == "50"
    assert p["Delegate"] == "yes"
    assert p["ControlGroup"] == "/system.slice/" + unit
    d = CG + p["ControlGroup"]
    assert open(d + "/memory.max").read().strip() == str(64 * MIB)
    assert open(d + "/pids.max").read().strip() == "50"
    pid = rt.state(cid)["pid"]
    assert str(pid) in open(d + "/cgroup.procs").read().split()
    assert open("/proc/%d/cgroup" % pid).read().strip() == "0::/system.slice/" + unit
    r = sd(rt, "delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: show(unit, "ActiveState")["ActiveState"] in ("inactive", ""))
    assert not os.path.exists(d)


def test_update_sets_properties_and_files(rt, make_bundle):
    name = unique_id("sd")
    b = bundle(make_bundle, name, {"memory": {"limit": 64 * MIB}})
    cid = unique_id()
    assert sd(rt, "run", "-d", "--bundle", b, cid).returncode == 0
    unit = "pyrunc-%s.scope" % name
    r = sd(rt, "update", "--memory", "96m", "--pids-limit", "30", cid)
    assert r.returncode == 0, r.stderr
    p = show(unit, "MemoryMax", "TasksMax", "ControlGroup")
    assert p["MemoryMax"] == str(96 * MIB) and p["TasksMax"] == "30"
    assert open(CG + p["ControlGroup"] + "/memory.max").read().strip() == str(96 * MIB)
    sd(rt, "delete", "--force", cid)


def test_nested_slice_exec_pause_and_kill(rt, make_bundle):
    name = unique_id("sd")
    b = bundle(make_bundle, name, slice_="pyrunc-test.slice")
    cid = unique_id()
    r = sd(rt, "run", "-d", "--bundle", b, cid)
    assert r.returncode == 0, r.stderr
    d = CG + "/pyrunc.slice/pyrunc-test.slice/pyrunc-%s.scope" % name
    assert os.path.isdir(d)
    # an exec'd process joins the scope (seen from the host: inside, its
    # cgroup namespace shows "/")
    pidfile = b / "exec.pid"
    r = sd(rt, "exec", "--detach", "--pid-file", pidfile, cid, "probe", "sleep", "30")
    assert r.returncode == 0, r.stderr
    epid = int(pidfile.read_text())
    assert open("/proc/%d/cgroup" % epid).read().strip().endswith("pyrunc-%s.scope" % name)
    assert sd(rt, "pause", cid).returncode == 0
    assert rt.state(cid)["status"] == "paused"
    assert sd(rt, "resume", cid).returncode == 0
    assert sd(rt, "kill", cid, "KILL").returncode == 0
    assert wait_for(lambda: rt.state(cid)["status"] == "stopped")
    assert sd(rt, "delete", cid).returncode == 0
    assert wait_for(lambda: not os.path.exists(d))


def test_bad_paths_are_one_line_errors_and_leave_nothing(rt, make_bundle):
    for path in ("not-a-triple", "bad--name.slice:pyrunc:x"):
        b = make_bundle(["true"], lambda c: c["linux"].update(cgroupsPath=path))
        r = sd(rt, "run", "--bundle", b, unique_id())
        assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert rt.ids() == []


def test_failed_create_stops_the_scope(rt, make_bundle):
    name = unique_id("sd")
    b = bundle(make_bundle, name, args=("/nonexistent",))
    r = sd(rt, "run", "--bundle", b, unique_id())
    assert r.returncode == 1
    unit = "pyrunc-%s.scope" % name
    assert wait_for(lambda: show(unit, "ActiveState").get("ActiveState") in ("inactive", ""))
    assert not os.path.exists(CG + "/system.slice/" + unit)
    assert rt.ids() == []


def test_plan_names_the_scope_and_its_properties_and_makes_nothing(rt, make_bundle):
    """`pyrunc --systemd-cgroup plan`: the transient unit, its properties
    (shares already as CPUWeight) and the files the v2 driver writes, while
    no unit exists before or after; the real container then has them."""
    import json
    name = unique_id("sd")
    b = bundle(make_bundle, name, {"memory": {"limit": 64 * MIB}, "cpu": {"shares": 512}})
    unit = "pyrunc-%s.scope" % name
    cid = unique_id()
    r = sd(rt, "plan", "--format", "json", "--bundle", b, cid)
    assert r.returncode == 0, r.stdout + r.stderr
    plan = json.loads(r.stdout)["cgroup"]
    assert plan["driver"] == "systemd" and plan["unit"] == unit
    props = dict(plan["properties"])
    assert props["MemoryMax"] == 64 * MIB and props["CPUWeight"] == 20
    assert show(unit, "LoadState").get("LoadState") == "not-found"
    assert not os.path.exists(CG + "/system.slice/" + unit)
    writes = dict(plan["writes"])
    mem = CG + "/system.slice/%s/memory.max" % unit
    assert writes[mem] == str(64 * MIB)
    r = sd(rt, "run", "-d", "--bundle", b, cid)
    assert r.returncode == 0, r.stderr
    try:
        assert show(unit, "MemoryMax")["MemoryMax"] == str(64 * MIB)
        with open(mem) as f:
            assert f.read().strip() == writes[mem]
    finally:
        sd(rt, "delete", "--force", cid)
