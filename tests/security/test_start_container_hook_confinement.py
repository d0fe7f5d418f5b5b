"""startContainer hooks run inside the container: runtime-spec places them
in its namespaces; they used to run from `start` with the runtime's full
host-root capabilities and no seccomp filter, a way out for anyone who can
write a config (or a hook binary in the image). They now run from the
container's init, last before the exec: the process's user, capabilities,
no_new_privs, seccomp filter and environment (runc).
"""
import os

from secutil import unique_id


def test_hook_has_the_processs_confinement(rt, make_bundle, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    os.chmod(out, 0o777)

    def edit(c):
        c["process"]["user"] = {"uid": 1000, "gid": 1000}
        c["process"]["env"] = ["ONE=two", "PATH=/bin"]
        c["mounts"].append({"destination": "/out", "type": "bind", "source": str(out),
                            "options": ["rbind"]})
        c["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": [
            "sh", "-c", "id -u > /out/h; grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' "
            "/proc/self/status >> /out/h; echo ONE=$ONE >> /out/h; cat > /out/state"]}]}
    b = make_bundle(["probe", "status"], edit)
    cid = unique_id()
    r = rt.ok("run", "--bundle", b, cid)
    proc = {l.split(":")[0]: l.split()[1] for l in r.stdout.splitlines() if ":" in l}
    hook = (out / "h").read_text().split("\n")
    assert hook[0] == "1000"
    st = {l.split(":")[0]: l.split()[1] for l in hook[1:5]}
    assert st["CapEff"] == proc["CapEff"] and st["CapBnd"] == proc["CapBnd"]
    assert st["NoNewPrivs"] == "1"
    assert "ONE=two" in hook
    assert '"id": "%s"' % cid in (out / "state").read_text().replace('":"', '": "')


def test_hook_is_under_the_containers_seccomp_filter(rt, make_bundle):
    def edit(c):
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL"}]}
        c["process"]["rlimits"] = [{"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
        c["hooks"] = {"startContainer": [{"path": "/bin/sh",
                                          "args": ["sh", "-c", "mkdir /tmp/foo"]}]}
    r = rt.cmd("run", "--bundle", make_bundle(["true"], edit), unique_id())
    assert r.returncode != 0
    assert "error running startContainer hook #0" in r.stderr and "bad system call" in r.stderr
    assert rt.ids() == []


def test_failing_hook_says_why_with_its_own_words(rt, make_bundle):
    """argv as configured (argv[0] "cat" for busybox), the last line of its
    stderr in the error, and a timeout that kills it (runc's hooks.bats)."""
    def edit(c):
        c["hooks"] = {"startContainer": [{"path": "/bin/busybox",
                                          "args": ["cat", "/nosuchfile"]}]}
    r = rt.cmd("run", "--bundle", make_bundle(["true"], edit), unique_id())
    assert r.returncode != 0 and "cat: can't open '/nosuchfile'" in r.stderr, r.stderr

    def slow(c):
        c["hooks"] = {"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "sleep 30"],
                                          "timeout": 1}]}
    r = rt.cmd("run", "--bundle", make_bundle(["true"], slow), unique_id(), timeout=20)
    assert r.returncode != 0 and "timed out after 1s" in r.stderr, r.stderr
    assert rt.ids() == []
