"""`pyrunc plan` (what create would do, changing nothing) and `pyrunc
validate` reporting every problem at once."""
import json
import os
import shutil

import pytest

from conftest import CALLERS, _own_cgroup_dirs, unique_id

CAP_KEYS = {"bounding": "CapBnd", "effective": "CapEff", "inheritable": "CapInh",
            "permitted": "CapPrm", "ambient": "CapAmb"}


def _host_snapshot(rt, tag):
    """What a plan must not change: state dirs, mounts, cgroups, and no
    process left that names the container (in its cgroup or command line)."""
    with open("/proc/self/mountinfo") as f:
        mounts = sorted(line.split(" ", 4)[4] for line in f)
    procs = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cgroup" % pid) as f:
                cg = f.read()
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if tag in cg or tag in cmd:
            procs.append(pid)
    state = sorted(os.listdir(rt.root)) if os.path.isdir(rt.root) else None
    return mounts, _own_cgroup_dirs(tag), procs, state


def _plan(rt, bundle, cid=None, fmt="json"):
    args = ["plan", "--format", fmt, "--bundle", str(bundle)] + ([cid] if cid else [])
    r = rt.cmd(*args)
    return r, (json.loads(r.stdout) if fmt == "json" and r.stdout else None)


def _resources(cfg):
    cfg["linux"]["resources"] = {
        "memory": {"limit": 64 * 1024 * 1024},
        "pids": {"limit": 77},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000},
    }
    cfg["process"]["capabilities"] = {s: ["CAP_KILL", "CAP_CHOWN", "CAP_SETUID"]
                                      for s in ("bounding", "effective", "permitted")}
    cfg["process"]["capabilities"]["inheritable"] = ["CAP_CHOWN"]
    cfg["process"]["capabilities"]["ambient"] = []
    cfg["mounts"].append({"destination": "/data/scratch", "type": "tmpfs", "source": "tmpfs",
                          "options": ["nosuid", "nodev", "ro", "size=1m"]})


def test_plan_of_the_example_bundle_changes_nothing(rt, tmp_path):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bundle = os.path.join(repo, "bundles", "busybox")
    if not os.path.isdir(os.path.join(bundle, "rootfs", "bin")):
        pytest.skip("the example rootfs is not made (bash .ci/install makes it)")
    cid = unique_id("plan")
    before = _host_snapshot(rt, cid)
    r, plan = _plan(rt, bundle, cid)
    assert r.returncode == 0, r.stderr + r.stdout
    assert _host_snapshot(rt, cid) == before
    assert plan["problems"] == []
    # complete: every step of create has its section
    for key in ("namespaces", "idMappings", "cgroup", "mounts", "maskedPaths",
                "readonlyPaths", "devices", "sysctl", "rlimits", "capabilities",
                "hooks", "process"):
        assert key in plan, key
    assert [n["type"] for n in plan["namespaces"]][-1] == "mount"
    assert {m["destination"] for m in plan["mounts"]} >= {"/proc", "/dev", "/sys"}
    assert all(m["target"].startswith(plan["rootfs"]) for m in plan["mounts"])
    assert plan["cgroup"]["writes"], "no cgroup write planned"
    assert any(d["path"] == "/dev/null" for d in plan["devices"])
    assert [e for e in plan["process"]["env"] if e.startswith("HOME=")] == ["HOME=/root"]
    r, _ = _plan(rt, bundle, cid, fmt="text")
    assert r.returncode == 0 and "\nmounts:\n" in r.stdout and "\ncapabilities:\n" in r.stdout


@pytest.mark.parametrize("name", sorted(
    n for n in os.listdir(CALLERS / "configs") if n.endswith("config.json")))
def test_plan_of_real_caller_configs_is_complete_and_changes_nothing(rt, tmp_path, name):
    """podman's, containerd's, dockerd's and buildah's configs: their rootfs
    and bind sources are not on this machine, which the plan says."""
    b = tmp_path / "b"
    b.mkdir()
    shutil.copy(CALLERS / "configs" / name, b / "config.json")
    cid = unique_id("plan")
    before = _host_snapshot(rt, cid)
    r, plan = _plan(rt, b, cid)
    assert _host_snapshot(rt, cid) == before
    assert r.returncode == 1, r.stderr
    cfg = json.loads((b / "config.json").read_text())
    assert len(plan["mounts"]) == len(cfg["mounts"])
    assert plan["cgroup"] is not None and plan["cgroup"]["writes"]
    assert plan["process"]["args"] == cfg["process"]["args"]
    assert {p["path"] for p in plan["problems"]} >= {"/root/path"}
    for p in plan["problems"]:
        if p["path"].startswith("/mounts/"):
            m = plan["mounts"][int(p["path"].split("/")[2])]
            assert m["fails"] and m["source"] in m["fails"]


def _mountinfo(pid):
    out = {}
    with open("/proc/%d/mountinfo" % pid) as f:
        for line in f:
            a, _, b = line.partition(" - ")
            fields = a.split()
            out[fields[4]] = (b.split()[0], set(fields[5].split(",")))
    return out


def _status_caps(pid):
    caps = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            caps[k] = int(v.strip(), 16) if k.startswith("Cap") else None
    return caps


def test_plan_is_what_the_container_gets(rt, make_bundle):
    """The plan's cgroup values, mounts, device nodes and capability sets,
    checked against a real container of the same bundle."""
    from pyrunc.linux.capabilities import BIT
    b = make_bundle(("sleep", "60"), edit=_resources)
    cid = unique_id("plan")
    r, plan = _plan(rt, b, cid)
    assert r.returncode == 0, r.stdout + r.stderr
    assert plan["problems"] == []
    rt.ok("run", "-d", "--bundle", b, cid)
    try:
        pid = rt.state(cid)["pid"]
        # cgroup: every value file the plan writes holds the planned value
        checked = 0
        for path, value in plan["cgroup"]["writes"]:
            name = os.path.basename(path)
            if name in ("memory.limit_in_bytes", "memory.max", "pids.max", "cpu.shares",
                        "cpu.weight", "cpu.max", "cpu.cfs_quota_us", "cpu.cfs_period_us"):
                with open(path) as f:
                    assert f.read().strip() == value.strip(), path
                checked += 1
        assert checked >= 3, plan["cgroup"]["writes"]
        # mounts: where the plan says, of the type and with the flags it says
        mi = _mountinfo(pid)
        for m in plan["mounts"]:
            assert m["destination"] in mi, m["destination"]
            fstype, opts = mi[m["destination"]]
            if not m["bind"] and m["type"] != "cgroup":
                assert fstype == m["type"], (m["destination"], fstype)
            for flag in ("ro", "nosuid", "nodev", "noexec"):
                if flag in m["set"]:
                    assert flag in opts, (m["destination"], flag, opts)
        scratch = [m for m in plan["mounts"] if m["destination"] == "/data/scratch"][0]
        assert {"ro", "nosuid", "nodev"} <= set(scratch["set"])
        assert scratch["target"].endswith("/rootfs/data/scratch") and not scratch["targetExists"]
        # device nodes
        for d in plan["devices"]:
            st = os.stat("/proc/%d/root%s" % (pid, d["path"]))
            assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (d["major"], d["minor"])
        # capability sets
        have = _status_caps(pid)
        for s, key in CAP_KEYS.items():
            want = sum(1 << BIT[n] for n in plan["capabilities"][s])
            assert have[key] == want, (s, hex(have[key]), plan["capabilities"][s])
        assert plan["capabilities"]["inheritable"] == ["CAP_CHOWN"]
    finally:
        rt.cmd("delete", "--force", cid)


def test_plan_says_what_would_fail(rt, make_bundle):
    def edit(cfg):
        cfg["mounts"].append({"destination": "/mnt/x", "type": "bind",
                              "source": "/nonexistent/pyrunc-plan", "options": ["rbind"]})
        cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 9, "hard": 9}] * 2
    b = make_bundle(edit=edit, rootfs_copy=False)
    r, _ = _plan(rt, b, fmt="text")
    assert r.returncode == 1
    assert "WOULD FAIL: source /nonexistent/pyrunc-plan: no such file or directory" in r.stdout
    assert "/process/rlimits" in r.stdout.split("problems (create would fail):")[1]


def test_validate_reports_three_independent_problems(rt, make_bundle):
    def edit(cfg):
        cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 9, "hard": 9}] * 2
        cfg["linux"]["sysctl"] = {"kernel.core_pattern": "x"}
        cfg["linux"]["netDevices"] = {"eth9": {}}
    b = make_bundle(edit=edit, rootfs_copy=False)
    r = rt.cmd("validate", "--bundle", b)
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 3, r.stderr
    assert [l.split(": ")[1] for l in lines] == ["/process/rlimits", "/linux/sysctl",
                                                 "/linux/netDevices"]
    r = rt.cmd("validate", "--format", "json", "--bundle", b)
    assert r.returncode == 1
    assert [p["path"] for p in json.loads(r.stdout)] == ["/process/rlimits", "/linux/sysctl",
                                                         "/linux/netDevices"]


def test_validate_reports_every_schema_error(rt, make_bundle):
    def edit(cfg):
        cfg["ociVersion"] = 5
        cfg["process"]["cwd"] = 7
        cfg["hostname"] = ["x"]
    b = make_bundle(edit=edit, rootfs_copy=False)
    r = rt.cmd("validate", "--bundle", b)
    assert r.returncode == 1
    paths = [l.split(": ")[1] for l in r.stderr.splitlines()]
    assert sorted(paths) == ["/hostname", "/ociVersion", "/process/cwd"], r.stderr


def test_validate_of_a_good_bundle(rt, make_bundle):
    b = make_bundle(rootfs_copy=False)
    r = rt.cmd("validate", "--bundle", b)
    assert r.returncode == 0 and r.stdout.startswith("bundle is valid")
    r = rt.cmd("validate", "--format", "json", "--bundle", b)
    assert r.returncode == 0 and json.loads(r.stdout) == []
