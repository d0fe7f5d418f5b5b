"""Issue 2: command line, bundle validation, ids, the state store."""
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import CONFIGS, PYRUNC, REPO, unique_id


def write_config(b, cfg):
    (b / "config.json").write_text(json.dumps(cfg) if not isinstance(cfg, str) else cfg)


@pytest.fixture
def bundle(make_bundle):
    return make_bundle(["true"], rootfs_copy=False)


def cfg_of(b):
    return json.loads((b / "config.json").read_text())


def assert_nothing_left(rt):
    assert not os.path.isdir(rt.root) or os.listdir(rt.root) == []


# every class of validation error, with its exact one-line message
CASES = [
    (lambda c: c["process"]["user"].__setitem__("uid", "zero"),
     'config.json: /process/user/uid: "zero" is not of type integer'),
    (lambda c: c["process"]["user"].__setitem__("uid", -1),
     "config.json: /process/user/uid: -1 is less than the minimum of 0"),
    (lambda c: c["process"].pop("cwd"),
     'config.json: /process: "cwd" is a required property'),
    (lambda c: c.__setitem__("ociVersion", "invalid"),
     'config.json: /ociVersion: "invalid" does not match'),
    (lambda c: c.__setitem__("ociVersion", "2.0.0"),
     'config.json: /ociVersion: "2.0.0" does not match'),
    (lambda c: c["linux"]["namespaces"].insert(0, {"type": "pidd"}),
     'config.json: /linux/namespaces/0/type: "pidd" is not one of'),
    (lambda c: c["process"].__setitem__("args", []),
     "config.json: /process/args: [] is too short"),
    (lambda c: c["mounts"][0].pop("destination"),
     'config.json: /mounts/0: "destination" is a required property'),
]


@pytest.mark.parametrize("edit,msg", CASES)
def test_validation_errors_are_one_exact_line(rt, bundle, edit, msg):
    cfg = cfg_of(bundle)
    edit(cfg)
    write_config(bundle, cfg)
    for cmd in (["create", "--bundle", bundle, unique_id()], ["run", "--bundle", bundle, unique_id()]):
        r = rt.cmd(*cmd)
        assert r.returncode == 1
        lines = r.stderr.splitlines()
        assert len(lines) == 1, r.stderr
        assert lines[0].startswith("pyrunc: %s: %s" % (cmd[0], msg)), lines[0]
        assert r.stdout == ""
    r = rt.cmd("validate", "--bundle", bundle)
    assert r.returncode == 1 and msg in r.stderr
    assert_nothing_left(rt)


def test_invalid_json_names_line_and_column(rt, bundle):
    write_config(bundle, '{\n  "ociVersion": "1.3.0",\n  "root": {"path": "rootfs"}\n  "x": 1\n}')
    r = rt.cmd("create", "--bundle", bundle, unique_id())
    assert r.returncode == 1
    assert r.stderr.strip() == ("pyrunc: create: config.json: invalid JSON at line 4 column 3: "
                                "Expecting ',' delimiter")
    assert_nothing_left(rt)


def test_missing_rootfs_and_config(rt, bundle, tmp_path):
    os.unlink(bundle / "rootfs")
    r = rt.cmd("create", "--bundle", bundle, unique_id())
    assert r.returncode == 1 and "rootfs" in r.stderr and "does not exist" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = rt.cmd("create", "--bundle", empty, unique_id())
    assert r.returncode == 1 and "config.json: no such file or directory" in r.stderr
    assert_nothing_left(rt)


def test_unknown_properties_and_annotations_are_ignored(rt, bundle):
    cfg = cfg_of(bundle)
    cfg["somethingNew"] = {"x": [1, 2]}
    cfg["process"]["futureField"] = True
    cfg["annotations"] = {"org.example.unknown": "yes"}
    write_config(bundle, cfg)
    cid = unique_id()
    rt.ok("create", "--bundle", bundle, cid)
    assert rt.state(cid)["annotations"] == {"org.example.unknown": "yes"}
    rt.ok("delete", "--force", cid)


@pytest.mark.parametrize("cid", ["", ".", "..", "-x", "a/b", "a b", "../../etc", "x" * 1025,
                                 "_leading", "a\nb"])
def test_bad_ids_are_refused_before_touching_disk(rt, bundle, cid):
    r = rt.cmd("create", "--bundle", bundle, cid)
    assert r.returncode != 0
    assert len(r.stderr.splitlines()) == 1
    assert_nothing_left(rt)
    assert rt.cmd("state", cid).returncode != 0


def test_good_ids(rt, bundle):
    for cid in ("a", "A.b-c_d+e", "0abc"):
        rt.ok("create", "--bundle", bundle, cid)
        rt.ok("delete", "--force", cid)


def test_concurrent_creates_of_one_id_exactly_one_wins(rt, bundle):
    cid = unique_id()
    results = []

    def go():
        results.append(rt.cmd("create", "--bundle", bundle, cid))
    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wins = [r for r in results if r.returncode == 0]
    assert len(wins) == 1
    for r in results:
        if r.returncode:
            assert "container with given ID already exists" in r.stderr
    assert rt.state(cid)["status"] == "created"
    rt.ok("delete", "--force", cid)


def test_failed_create_leaves_nothing(rt, make_bundle):
    b = make_bundle(["/nonexistent"])
    cg = cfg_of(b)["linux"]["cgroupsPath"]
    r = rt.cmd("create", "--bundle", b, unique_id())
    assert r.returncode == 1
    assert 'exec /nonexistent: no such file or directory' in r.stderr    # runc 1.5
    assert_nothing_left(rt)
    assert not os.path.exists("/sys/fs/cgroup/memory" + cg)
    assert not os.path.exists("/sys/fs/cgroup/pids" + cg)
    b = make_bundle(["nosuchcmd"])
    r = rt.cmd("create", "--bundle", b, unique_id())
    assert r.returncode == 1 and "executable file not found in $PATH" in r.stderr
    assert_nothing_left(rt)


def test_usage_errors_exit_2(rt):
    r = rt.cmd("create")
    assert r.returncode == 2 and r.stderr.startswith("pyrunc:")
    r = rt.cmd("state")
    assert r.returncode == 2
    r = rt.cmd("frobnicate")
    assert r.returncode == 2
    r = rt.cmd("create", "--no-such-flag", "x")
    assert r.returncode == 2 and "flag provided but not defined" in r.stderr


def test_help_on_every_command(rt):
    from pyrunc.cli import COMMANDS
    for cmd in COMMANDS:
        for flag in ("--help", "-h"):
            r = rt.cmd(cmd, flag)
            lines = r.stdout.splitlines()
            # urfave/cli's layout, as runc's help
            assert lines[0] == "NAME:" and lines[1].startswith("   pyrunc %s - " % cmd), lines
            assert "USAGE:" in lines and "OPTIONS:" in lines
            assert r.returncode == 0, cmd
    r = rt.cmd("--help")
    assert r.returncode == 0 and r.stdout.startswith("NAME:\n   pyrunc - ")
    assert "COMMANDS:" in r.stdout and "GLOBAL OPTIONS:" in r.stdout
    r = rt.cmd("foo", "-h")
    assert r.returncode == 2 and "No help topic for 'foo'" in r.stderr


def test_version():
    r = subprocess.run(PYRUNC + ["--version"], capture_output=True, text=True)
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert lines[0].startswith("pyrunc version ") and lines[2] == "spec: 1.3.0"


def test_json_log_format(rt, tmp_path):
    log = tmp_path / "log.json"
    for form in (["--log-format", "json"], ["--log-format=json"]):
        r = subprocess.run(PYRUNC + ["--root", rt.root, "--log", str(log)] + form + ["state", "nope"],
                           capture_output=True, text=True)
        assert r.returncode == 1
    lines = log.read_text().splitlines()
    assert len(lines) == 2
    for line in lines:
        d = json.loads(line)
        assert d["level"] == "error" and "container does not exist" in d["msg"]
        assert d["time"].endswith("Z")
    tlog = tmp_path / "log.txt"
    subprocess.run(PYRUNC + ["--root", rt.root, "--log", str(tlog), "state", "nope"],
                   capture_output=True)
    assert 'level=error msg="state: container does not exist"' in tlog.read_text()


def test_spec_then_validate(tmp_path, base_rootfs):
    b = tmp_path / "b"
    b.mkdir()
    (b / "rootfs").symlink_to(base_rootfs)
    subprocess.run(PYRUNC + ["spec", "--bundle", str(b)], check=True)
    cfg = json.loads((b / "config.json").read_text())
    assert "inheritable" not in cfg["process"]["capabilities"]   # CVE-2022-29162
    # a cgroup namespace only on a pure cgroup v2 host (runc's rule)
    from pyrunc.linux import cgroups
    assert ({"type": "cgroup"} in cfg["linux"]["namespaces"]) is (cgroups.detect() == "v2")
    r = subprocess.run(PYRUNC + ["validate"], cwd=b, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # spec refuses to overwrite
    r = subprocess.run(PYRUNC + ["spec", "--bundle", str(b)], capture_output=True, text=True)
    assert r.returncode == 1
    r2 = tmp_path / "r"
    r2.mkdir()
    subprocess.run(PYRUNC + ["spec", "--rootless", "--bundle", str(r2)], check=True)
    cfg = json.loads((r2 / "config.json").read_text())
    assert {"type": "user"} in cfg["linux"]["namespaces"]


def test_features_valid_and_honest():
    import jsonschema
    r = subprocess.run(PYRUNC + ["features"], capture_output=True, text=True, check=True)
    f = json.loads(r.stdout)
    schema = json.loads((REPO / "schemas" / "features.schema.json").read_text())
    jsonschema.Draft7Validator(schema).validate(f)
    assert f["ociVersionMax"] == "1.3.0"
    assert f["linux"]["apparmor"]["enabled"] is False
    from pyrunc.linux.sys import real
    idmap = real().has_mount_setattr()
    assert f["linux"]["mountExtensions"]["idmap"]["enabled"] is idmap
    assert ("ridmap" in f["mountOptions"]) is idmap
    assert set(f["linux"]["namespaces"]) == {"pid", "network", "mount", "ipc", "uts", "user",
                                             "cgroup", "time"}
    from pyrunc.linux import cgroups
    assert f["linux"]["cgroup"]["systemd"] is (cgroups.detect() == "v2" and
                                               os.path.isdir("/run/systemd/system"))


def test_caller_configs_validate(tmp_path, base_rootfs):
    """Every real config from podman, buildah, containerd and dockerd passes."""
    from pyrunc.config import validate
    from pyrunc.config.model import build
    for p in sorted(CONFIGS.glob("*-config.json")):
        doc = json.loads(p.read_text())
        validate("config", doc, p.name)
        build(doc)
    for p in sorted(CONFIGS.glob("*-exec-process.json")):
        validate("process", json.loads(p.read_text()), p.name)


def test_state_store_survives_pid_reuse(rt, make_bundle):
    """A recorded pid whose start time differs is a stopped container."""
    b = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    rt.ok("create", "--bundle", b, cid)
    p = Path(rt.root) / cid / "state.json"
    d = json.loads(p.read_text())
    d["pid_start"] = d["pid_start"] + 12345     # as if the pid had been recycled
    p.write_text(json.dumps(d))
    assert rt.state(cid)["status"] == "stopped"
    d["pid_start"] -= 12345
    p.write_text(json.dumps(d))
    assert rt.state(cid)["status"] == "created"
    assert oct(os.stat(Path(rt.root) / cid).st_mode & 0o777) == "0o700"
    rt.ok("delete", "--force", cid)


def test_rootless_flag_and_the_default_root(tmp_path):
    """--rootless takes true|false|auto; the default root is
    $XDG_RUNTIME_DIR/pyrunc only for a rootless caller (runc's rule), so
    root outside any user namespace keeps /run/pyrunc whatever XDG says."""
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path))
    r = subprocess.run(PYRUNC + ["--rootless=maybe", "list"], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 2 and "--rootless: 'maybe' is not true, false or auto" in r.stderr
    r = subprocess.run(PYRUNC + ["--rootless", "true", "list", "-q"], capture_output=True,
                       text=True, env=env)
    assert r.returncode == 0, r.stderr
    os.mkdir(tmp_path / "pyrunc")
    (tmp_path / "pyrunc" / "x").mkdir()
    (tmp_path / "pyrunc" / "x" / "state.json").write_text("{}")
    listed = subprocess.run(PYRUNC + ["--rootless", "true", "list", "-q"],
                            capture_output=True, text=True, env=env).stdout
    assert listed.split() == ["x"]
    listed = subprocess.run(PYRUNC + ["list", "-q"], capture_output=True, text=True,
                            env=env).stdout
    assert "x" not in listed.split()
