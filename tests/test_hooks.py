"""Hooks: order, state on stdin, where they run, timeouts, failures."""
import json
import os
import time

from conftest import unique_id


def hook_script(tmp_path, name, body="cat > \"$OUT/$NAME.json\"; echo $NAME >> \"$OUT/order\""):
    p = tmp_path / ("%s.sh" % name)
    p.write_text("#!/bin/sh\n" + body + "\n")
    p.chmod(0o755)
    return str(p)


def hooks_config(tmp_path, out, fail=None, sleep=None):
    def h(kind, i=0):
        name = "%s%d" % (kind, i)
        body = "cat > \"$OUT/$NAME.json\"; echo $NAME >> \"$OUT/order\""
        if fail == name:
            body += "; exit 3"
        if sleep == name:
            body = "sleep 5"
        return {"path": "/bin/sh", "args": ["sh", hook_script(tmp_path, name, body)],
                "env": ["OUT=%s" % out, "NAME=%s" % name], "timeout": 2}
    return {
        "prestart": [h("prestart")],
        "createRuntime": [h("createRuntime")],
        "createContainer": [h("createContainer")],
        "startContainer": [h("startContainer")],
        "poststart": [h("poststart")],
        "poststop": [h("poststop", 0), h("poststop", 1)],
    }


def test_hooks_order_and_state(rt, make_bundle, tmp_path):
    out = tmp_path / "out"
    out.mkdir()

    def edit(c):
        c["hooks"] = hooks_config(tmp_path, out)
        c["annotations"] = {"a": "b"}
        # createContainer and startContainer run in the container's mount
        # namespace: give them the host paths they need
        c["mounts"].append({"destination": str(tmp_path), "type": "bind", "source": str(tmp_path),
                            "options": ["rbind"]})
        c["mounts"].append({"destination": "/usr/lib", "type": "bind", "source": "/usr/lib",
                            "options": ["rbind", "ro"]})
    b = make_bundle(["probe", "sleep", "60"], edit)
    cid = unique_id()
    rt.ok("create", "--bundle", b, cid)
    order = (out / "order").read_text().split()
    assert order == ["prestart0", "createRuntime0", "createContainer0"]
    pid = rt.state(cid)["pid"]
    st = json.loads((out / "prestart0.json").read_text())
    assert st["id"] == cid and st["pid"] == pid and st["bundle"] == str(b)
    assert st["status"] == "created" and st["annotations"] == {"a": "b"}
    assert json.loads((out / "createRuntime0.json").read_text())["status"] == "creating"
    cc = json.loads((out / "createContainer0.json").read_text())
    assert cc["status"] == "creating" and cc["pid"] == pid      # the host's pid
    rt.ok("start", cid)
    order = (out / "order").read_text().split()
    assert order[3:] == ["startContainer0", "poststart0"]      # before start returned
    assert json.loads((out / "poststart0.json").read_text())["status"] == "running"
    rt.ok("kill", cid, "KILL")
    rt.ok("delete", "--force", cid)
    order = (out / "order").read_text().split()
    assert order[5:] == ["poststop0", "poststop1"]
    assert json.loads((out / "poststop0.json").read_text())["status"] == "stopped"


def test_failing_prestart_tears_down(rt, make_bundle, tmp_path):
    out = tmp_path / "out"
    out.mkdir()

    def edit(c):
        c["hooks"] = {"prestart": hooks_config(tmp_path, out, fail="prestart0")["prestart"]}
    b = make_bundle(["true"], edit)
    cid = unique_id()
    r = rt.cmd("create", "--bundle", b, cid)
    assert r.returncode == 1 and "prestart hook #0" in r.stderr and "exit status 3" in r.stderr
    assert rt.cmd("state", cid).returncode == 1
    assert os.listdir(rt.root) == []


def test_hook_timeout(rt, make_bundle, tmp_path):
    out = tmp_path / "out"
    out.mkdir()

    def edit(c):
        c["hooks"] = {"createRuntime": hooks_config(tmp_path, out, sleep="createRuntime0")["createRuntime"]}
    b = make_bundle(["true"], edit)
    t = time.time()
    r = rt.cmd("create", "--bundle", b, unique_id())
    assert r.returncode == 1 and "timed out" in r.stderr
    assert time.time() - t < 4.5


def test_failing_poststop_warns_and_the_rest_run(rt, make_bundle, tmp_path):
    out = tmp_path / "out"
    out.mkdir()

    def edit(c):
        c["hooks"] = {"poststop": hooks_config(tmp_path, out, fail="poststop0")["poststop"]}
    b = make_bundle(["true"], edit)
    cid = unique_id()
    rt.ok("run", "--bundle", b, "--keep", cid)
    r = rt.ok("delete", cid)
    assert "warning" in r.stderr and "poststop hook #0" in r.stderr
    assert (out / "order").read_text().split() == ["poststop0", "poststop1"]


def test_failing_poststart_is_an_error_and_stops(rt, make_bundle, tmp_path):
    """runtime-spec 1.3.0: a failing poststart hook is an error."""
    out = tmp_path / "out"
    out.mkdir()

    def edit(c):
        c["hooks"] = {"poststart": hooks_config(tmp_path, out, fail="poststart0")["poststart"]}
    b = make_bundle(["probe", "sleep", "60"], edit)
    cid = unique_id()
    rt.ok("create", "--bundle", b, cid)
    r = rt.cmd("start", cid)
    assert r.returncode == 1 and "poststart hook #0" in r.stderr
    for _ in range(100):
        if rt.state(cid)["status"] == "stopped":
            break
        time.sleep(0.02)
    assert rt.state(cid)["status"] == "stopped"
    rt.ok("delete", cid)


def test_hooks_cwd_and_environment_as_runc(rt, make_bundle, tmp_path):
    """createRuntime runs in the bundle, createContainer in the rootfs; a
    hook without "env" gets the runtime's environment, one with an empty
    "env" an empty one (runc's host-mntns.bats and hooks)."""
    out = tmp_path / "out"
    out.mkdir()
    body = "pwd > %s/$1; echo \"v=$PYRUNC_HOOK_TEST\" >> %s/$1" % (out, out)

    def edit(c):
        c["hooks"] = {
            "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", body, "sh", "cr"]},
                              {"path": "/bin/sh", "args": ["sh", "-c", body, "sh", "empty"],
                               "env": []}],
            "createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", body, "sh", "cc"]}],
        }
    b = make_bundle(["true"], edit)
    env = dict(os.environ, PYRUNC_HOOK_TEST="inherited")
    rt.ok("run", "--bundle", b, unique_id(), env=env)
    assert (out / "cr").read_text().split() == [str(b), "v=inherited"]
    assert (out / "empty").read_text().split() == [str(b), "v="]
    assert (out / "cc").read_text().split() == [str(b / "rootfs"), "v=inherited"]


def test_runtime_hooks_of_run_stay_in_the_host_pid_namespace(rt, make_bundle, tmp_path):
    """A rootful create forks the init straight into its new pid namespace
    (unshare CLONE_NEWPID in pyrunc, then setns back, see
    lifecycle/create.py). Everything pyrunc forks after that must land in
    the host's pid namespace again: in `run` the prestart, createRuntime,
    poststart and poststop hooks are children of the same process that
    forked the init."""
    out = tmp_path / "out"
    out.mkdir()
    body = 'readlink /proc/self/ns/pid > "$OUT/$NAME"'

    def edit(c):
        c["hooks"] = {k: [dict(h, args=["sh", hook_script(tmp_path, h["env"][1][5:], body)])
                          for h in v]
                      for k, v in hooks_config(tmp_path, out).items()
                      if k in ("prestart", "createRuntime", "poststart", "poststop")}
    b = make_bundle(["readlink", "/proc/self/ns/pid"], edit)
    r = rt.ok("run", "--bundle", b, unique_id())
    container_ns = r.stdout.strip()
    host_ns = os.readlink("/proc/self/ns/pid")
    assert container_ns and container_ns != host_ns, r.stdout
    seen = {n.name: (out / n.name).read_text().strip() for n in out.iterdir()}
    assert sorted(seen) == ["createRuntime0", "poststart0", "poststop0", "poststop1",
                            "prestart0"], seen
    assert set(seen.values()) == {host_ns}, seen
