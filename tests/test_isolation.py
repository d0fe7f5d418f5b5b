"""Issue 3: namespaces, root filesystem, devices and process attributes,
checked from inside real containers (busybox + tests/probe/probe.c)."""
import json
import os
import socket
import subprocess
import time

import pytest

from conftest import PYRUNC, gone_or_zombie, unique_id, wait_for


def run_out(rt, b):
    return rt.ok("run", "--bundle", b, unique_id()).stdout


def test_hostname_domainname_uts(rt, make_bundle):
    def edit(c):
        c["hostname"] = "box1"
        c["domainname"] = "example.org"
    b = make_bundle(["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"], edit)
    assert run_out(rt, b).split() == ["box1", "example.org"]
    assert os.uname().nodename != "box1"

    def no_uts(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "uts"]
        c["hostname"] = "x"
    b = make_bundle(["true"], no_uts)
    r = rt.cmd("run", "--bundle", b, unique_id())
    assert r.returncode == 1 and "UTS namespace" in r.stderr


def test_every_namespace_is_new(rt, make_bundle, traversable):
    types = ["pid", "network", "ipc", "uts", "mount", "cgroup", "user", "time"]

    def edit(c):
        c["linux"]["namespaces"] = [{"type": t} for t in types]
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["timeOffsets"] = {"boottime": {"secs": 86400 * 365, "nanosecs": 0}}
        c["linux"].pop("resources", None)
        c["mounts"] = [m for m in c["mounts"] if m["type"] not in ("cgroup", "sysfs")]
    names = ["pid", "net", "ipc", "uts", "mnt", "cgroup", "user", "time"]
    b = make_bundle(["sh", "-c", "for n in %s; do readlink /proc/self/ns/$n; done; "
                     "cat /proc/self/uid_map; cut -d. -f1 /proc/uptime; id -u" % " ".join(names)],
                    edit)
    out = run_out(rt, b).splitlines()
    host = [os.readlink("/proc/self/ns/%s" % n) for n in names]
    for inside, outside in zip(out[:8], host):
        assert inside != outside
    assert out[8].split() == ["0", "100000", "65536"]
    host_uptime = float(open("/proc/uptime").read().split()[0])
    assert int(out[9]) >= 86400 * 365 + host_uptime - 5
    assert out[10] == "0"


def test_namespace_inherited_when_not_listed(rt, make_bundle):
    def edit(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
    b = make_bundle(["readlink", "/proc/self/ns/net"], edit)
    assert run_out(rt, b).strip() == os.readlink("/proc/self/ns/net")


def test_join_namespace_by_path_and_type_checks(rt, make_bundle):
    holder = make_bundle(["probe", "sleep", "60"])
    hid = unique_id()
    rt.ok("run", "-d", "--bundle", holder, hid)
    hpid = rt.state(hid)["pid"]
    try:
        def join(c):
            for n in c["linux"]["namespaces"]:
                if n["type"] in ("network", "ipc", "uts"):
                    n["path"] = "/proc/%d/ns/%s" % (hpid, {"network": "net"}.get(n["type"], n["type"]))
        b = make_bundle(["sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc"], join)
        out = run_out(rt, b).split()
        assert out == [os.readlink("/proc/%d/ns/net" % hpid), os.readlink("/proc/%d/ns/ipc" % hpid)]

        def wrong(c):
            for n in c["linux"]["namespaces"]:
                if n["type"] == "network":
                    n["path"] = "/proc/%d/ns/ipc" % hpid
        b = make_bundle(["true"], wrong)
        r = rt.cmd("run", "--bundle", b, unique_id())
        assert r.returncode == 1 and "is not a network namespace" in r.stderr

        def dup(c):
            c["linux"]["namespaces"].append({"type": "pid"})
        b = make_bundle(["true"], dup)
        r = rt.cmd("run", "--bundle", b, unique_id())
        assert r.returncode == 1 and "duplicate namespace type" in r.stderr
    finally:
        rt.ok("delete", "--force", hid)


SYSCTL = {False: ("kernel.msgmax", "kernel/msgmax"),
          True: ("net.ipv4.ip_unprivileged_port_start", "net/ipv4/ip_unprivileged_port_start")}


@pytest.mark.parametrize("userns", [False, True])
def test_join_pid_namespace_by_path(rt, make_bundle, traversable, userns):
    """A pod: the second container joins the first one's pid namespace (and
    user namespace). Its /proc is of that namespace, its process is there,
    its oomScoreAdj and sysctls are applied, and `state` names the
    process's host pid."""
    def maps(c):
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["mounts"] = [m for m in c["mounts"] if m["type"] not in ("cgroup", "sysfs")]
    holder = make_bundle(["probe", "sleep", "60"], maps if userns else None)
    hid = unique_id()
    rt.ok("run", "-d", "--bundle", holder, hid)
    hpid = rt.state(hid)["pid"]
    try:
        def join(c):
            if userns:
                maps(c)
                c["linux"].pop("uidMappings")
                c["linux"].pop("gidMappings")
            for n in c["linux"]["namespaces"]:
                if n["type"] in ("pid", "user"):
                    n["path"] = "/proc/%d/ns/%s" % (hpid, n["type"])
            # (in a user namespace the init cannot write its own oom_score_adj
            # yet: runc writes it from the host; see issue 9)
            if not userns:
                c["process"]["oomScoreAdj"] = 500
            # ipc sysctls are writable by a user namespace's root only from
            # Linux 5.17 (before, runc fails the same way); a net one of its
            # own network namespace is, on every kernel pyrunc supports
            c["linux"]["sysctl"] = {SYSCTL[userns][0]: "4321"}
        b = make_bundle(["sh", "-c", "readlink /proc/self/ns/pid; cat /proc/1/cmdline; echo; "
                         "cat /proc/self/oom_score_adj; cat /proc/sys/%s; "
                         "echo $$; sleep 5" % SYSCTL[userns][1]], join)
        cid = unique_id()
        r = rt.cmd("run", "--bundle", b, cid)
        assert r.returncode == 0, r.stderr
        lines = r.stdout.split("\n")
        assert lines[0] == os.readlink("/proc/%d/ns/pid" % hpid)
        assert lines[1].replace("\0", " ").strip() == "probe sleep 60"
        assert lines[2:4] == ["0" if userns else "500", "4321"]
        assert int(lines[4]) > 1            # not the namespace's init
    finally:
        rt.ok("delete", "--force", hid)


@pytest.fixture(params=["mount_setattr", "remount"])
def mount_api(request, monkeypatch):
    """Each mount test twice: with mount_setattr (Linux >= 5.12) and with the
    fallback older kernels get (MS_REMOUNT|MS_BIND after attaching)."""
    if request.param == "remount":
        monkeypatch.setenv("PYRUNC_TEST_LACKS", "mount_setattr")
    return request.param


def test_mounts_in_order_with_options(rt, make_bundle, tmp_path, mount_api):
    host = tmp_path / "data"
    host.mkdir()
    (host / "f").write_text("hello\n")
    (host / "sub").mkdir()

    def edit(c):
        c["mounts"] += [
            {"destination": "/data", "type": "bind", "source": str(host), "options": ["rbind", "ro", "nosuid", "nodev"]},
            {"destination": "/data/sub", "type": "tmpfs", "source": "tmpfs", "options": ["noexec", "size=1m", "mode=700"]},
            {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosymfollow", "rw"]},
        ]
    b = make_bundle(["sh", "-c", "cat /data/f; touch /data/x 2>/dev/null && echo writable || echo readonly; "
                     "grep -E ' /(data|data/sub|scratch) ' /proc/self/mountinfo; stat -c %a /data/sub"], edit)
    out = run_out(rt, b).splitlines()
    assert out[0] == "hello" and out[1] == "readonly"
    info = {l.split()[4]: l for l in out[2:5]}
    assert list(info) == ["/data", "/data/sub", "/scratch"]      # listed order
    assert "ro," in info["/data"].split()[5] + "," and "nosuid" in info["/data"] and "nodev" in info["/data"]
    assert "noexec" in info["/data/sub"] and "tmpfs" in info["/data/sub"]
    assert "nosymfollow" in info["/scratch"]
    assert out[5] == "700"
    assert not (host / "x").exists()


def test_overlay_rootfs_leaves_lower_layers_unchanged(rt, make_bundle, tmp_path, base_rootfs):
    """An image's layers reach a runtime as an overlay: read-only lowers,
    a writable upper."""
    lower = base_rootfs
    upper, work, merged = (tmp_path / n for n in ("upper", "work", "merged"))
    for d in (upper, work, merged):
        d.mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    "lowerdir=%s,upperdir=%s,workdir=%s" % (lower, upper, work), str(merged)],
                   check=True)
    before = sorted(os.listdir(lower / "etc"))
    try:
        def edit(c):
            c["root"] = {"path": str(merged), "readonly": False}
        b = make_bundle(["sh", "-c", "echo new > /etc/added; rm /etc/hostname; cat /etc/added"], edit,
                        rootfs_copy=False)
        assert run_out(rt, b).strip() == "new"
        assert (upper / "etc" / "added").read_text() == "new\n"
        assert sorted(os.listdir(lower / "etc")) == before          # lower untouched
        assert (lower / "etc" / "hostname").exists()
    finally:
        subprocess.run(["umount", str(merged)], check=True)


def test_overlay_mount_inside_container(rt, make_bundle, tmp_path):
    low = tmp_path / "low"
    up = tmp_path / "up"
    wk = tmp_path / "wk"
    for d in (low, up, wk):
        d.mkdir()
    (low / "a").write_text("lower")

    def edit(c):
        c["mounts"].append({"destination": "/ov", "type": "overlay", "source": "overlay",
                            "options": ["lowerdir=%s" % low, "upperdir=%s" % up, "workdir=%s" % wk]})
    b = make_bundle(["sh", "-c", "cat /ov/a; echo upper > /ov/b"], edit)
    assert run_out(rt, b).strip() == "lower"
    assert (up / "b").read_text() == "upper\n" and not (low / "b").exists()


def test_default_devices_and_links(rt, make_bundle):
    b = make_bundle(["sh", "-c", "for d in null zero full random urandom tty; do "
                     "stat -c '%n %F %t:%T %a' /dev/$d; done; for l in fd stdin stdout stderr ptmx; do "
                     "echo $l $(readlink /dev/$l); done"])
    out = run_out(rt, b).splitlines()
    want = {"null": "1:3", "zero": "1:5", "full": "1:7", "random": "1:8", "urandom": "1:9",
            "tty": "5:0"}
    for line, (name, dev) in zip(out[:6], want.items()):
        assert line == "/dev/%s character special file %s 666" % (name, dev)
    assert out[6:] == ["fd /proc/self/fd", "stdin /proc/self/fd/0", "stdout /proc/self/fd/1",
                       "stderr /proc/self/fd/2", "ptmx pts/ptmx"]


def test_linux_devices(rt, make_bundle):
    def edit(c):
        c["linux"]["devices"] = [
            {"path": "/dev/test1", "type": "c", "major": 1, "minor": 3, "fileMode": 0o620, "uid": 1, "gid": 2},
            {"path": "/dev/sub/test2", "type": "b", "major": 7, "minor": 66, "fileMode": 0o600},
            {"path": "/dev/test3", "type": "p", "fileMode": 0o644},
        ]
    b = make_bundle(["sh", "-c", "stat -c '%n %F %t:%T %a %u %g' /dev/test1 /dev/sub/test2 /dev/test3"], edit)
    assert run_out(rt, b).splitlines() == [
        "/dev/test1 character special file 1:3 620 1 2",
        "/dev/sub/test2 block special file 7:42 600 0 0",
        "/dev/test3 fifo 0:0 644 0 0",
    ]


def test_sysctl(rt, make_bundle):
    def edit(c):
        c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"}
    b = make_bundle(["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced"], edit)
    host = open("/proc/sys/net/ipv4/ip_forward").read()
    assert run_out(rt, b).split() == ["1", "1"]
    assert open("/proc/sys/net/ipv4/ip_forward").read() == host

    def bad(c):
        c["linux"]["sysctl"] = {"kernel.core_pattern": "|/evil"}
    b = make_bundle(["true"], bad)
    r = rt.cmd("run", "--bundle", b, unique_id())
    assert r.returncode == 1 and "not namespaced" in r.stderr


def test_readonly_root_and_propagation(rt, make_bundle, mount_api):
    def edit(c):
        c["root"]["readonly"] = True
        c["linux"]["rootfsPropagation"] = "shared"
    b = make_bundle(["sh", "-c", "touch /x 2>/dev/null && echo rw || echo ro; "
                     "awk '$5 == \"/\"' /proc/self/mountinfo"], edit)
    out = run_out(rt, b).splitlines()
    assert out[0] == "ro"
    assert "shared:" in out[1]


def test_recursive_attributes_reach_every_submount(rt, make_bundle, tmp_path, mount_api):
    """rro/rnosuid on an rbind apply to the mounts below the source too, on
    5.10 as well (each submount remounted); readonlyPaths are recursive;
    masked dirs are read-only tmpfs; a file bind mount gets its ro."""
    host = tmp_path / "tree"
    (host / "inner").mkdir(parents=True)
    (tmp_path / "file").write_text("f\n")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(host / "inner")],
                   check=True)
    try:
        def edit(c):
            c["mounts"] += [
                {"destination": "/tree", "type": "bind", "source": str(host),
                 "options": ["rbind", "rro", "rnosuid"]},
                {"destination": "/file", "type": "bind", "source": str(tmp_path / "file"),
                 "options": ["bind", "ro", "noexec"]},
            ]
            c["linux"]["readonlyPaths"] = ["/proc/sys"]
            c["linux"]["maskedPaths"] = ["/proc/scsi", "/proc/acpi", "/proc/kcore"]
        b = make_bundle(["sh", "-c",
                         "for p in /tree /tree/inner /file /proc/sys /proc/sys/fs/binfmt_misc; do "
                         "awk -v p=$p '$5 == p {print p, $6}' /proc/self/mountinfo | tail -1; done; "
                         "touch /tree/inner/x 2>/dev/null && echo writable || echo readonly"], edit)
        out = run_out(rt, b).splitlines()
    finally:
        subprocess.run(["umount", "-l", str(host / "inner")])
    got = dict(l.split() for l in out[:-1])
    assert set(got["/tree"].split(",")) >= {"ro", "nosuid"}
    assert set(got["/tree/inner"].split(",")) >= {"ro", "nosuid"}
    assert set(got["/file"].split(",")) >= {"ro", "noexec"}
    assert "ro" in got["/proc/sys"].split(",")
    if "/proc/sys/fs/binfmt_misc" in got:       # where the host has it mounted
        assert "ro" in got["/proc/sys/fs/binfmt_misc"].split(",")
    assert out[-1] == "readonly"


def test_process_user_cwd_env_umask(rt, make_bundle):
    def edit(c):
        c["process"]["user"] = {"uid": 10, "gid": 10, "additionalGids": [5, 7], "umask": 0o27}
        c["process"]["cwd"] = "/new/dir"
        c["process"]["env"] = ["PATH=/bin", "FOO=bar baz"]
    b = make_bundle(["sh", "-c", "id; pwd; echo $FOO; umask"], edit)
    out = run_out(rt, b).splitlines()
    assert out[0].startswith("uid=10 gid=10") and "groups=5(tty),7" in out[0]
    assert out[1:] == ["/new/dir", "bar baz", "0027"]


def test_oom_score_adj_and_rlimits(rt, make_bundle):
    def edit(c):
        c["process"]["oomScoreAdj"] = 500
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 3000, "hard": 4000},
                                   {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
    b = make_bundle(["sh", "-c", "cat /proc/self/oom_score_adj; probe rlimits"], edit)
    out = run_out(rt, b).splitlines()
    assert out[0] == "500"
    assert "RLIMIT_NOFILE 3000 4000" in out and "RLIMIT_CORE 0 0" in out

    def bad(c):
        c["process"]["rlimits"] = [{"type": "RLIMIT_TEST", "soft": 1, "hard": 1}]
    r = rt.cmd("run", "--bundle", make_bundle(["true"], bad), unique_id())
    assert r.returncode == 1 and "RLIMIT_TEST" in r.stderr

    def dup(c):
        c["process"]["rlimits"] = [{"type": "RLIMIT_CORE", "soft": 1, "hard": 1}] * 2
    r = rt.cmd("run", "--bundle", make_bundle(["true"], dup), unique_id())
    assert r.returncode == 1 and "duplicate rlimit" in r.stderr


def test_only_stdio_and_preserved_fds_reach_the_process(rt, make_bundle, tmp_path):
    """CVE-2024-21626: exactly 0, 1, 2 (+ --preserve-fds), whatever the caller leaks."""
    b = make_bundle(["probe", "fds"])
    leak = os.open("/", os.O_RDONLY)
    extra = os.open(str(tmp_path), os.O_RDONLY)

    def child_fds():
        # in the child only: fd 3 = the dir to preserve, fd 42 = a leaked
        # host directory, both inheritable (a careless caller)
        os.dup2(extra, 3)
        os.dup2(leak, 42)

    def run(*flags):
        return subprocess.run(PYRUNC + ["--root", rt.root, "run"] + list(flags) +
                              ["--bundle", str(b), unique_id()], capture_output=True, text=True,
                              close_fds=False, preexec_fn=child_fds)
    try:
        r = run()
        assert r.returncode == 0, r.stderr
        assert [l.split()[0] for l in r.stdout.splitlines()] == ["0", "1", "2"]
        r = run("--preserve-fds", "1")
        fds = dict(l.split(None, 1) for l in r.stdout.splitlines())
        assert sorted(fds) == ["0", "1", "2", "3"] and fds["3"] == str(tmp_path)
    finally:
        os.close(leak)
        os.close(extra)


def test_console_socket(rt, make_bundle, tmp_path):
    sock_path = str(tmp_path / "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(1)

    def edit(c):
        c["process"]["terminal"] = True
        c["process"]["consoleSize"] = {"height": 30, "width": 100}
    b = make_bundle(["sh", "-c", "tty; stty size; readlink /proc/self/fd/0; "
                     "stat -c %t /dev/console; sleep 0.3"], edit)
    cid = unique_id()
    rt.ok("create", "--bundle", b, "--console-socket", sock_path, cid)
    conn, _ = srv.accept()
    msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 4)
    assert len(fds) == 1 and msg.startswith(b"/dev/pts/")
    master = fds[0]
    rt.ok("start", cid)
    out = b""
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    lines = out.decode().replace("\r", "").split("\n")
    assert lines[0] == msg.decode()
    assert lines[1] == "30 100"
    assert lines[2] == msg.decode()
    assert lines[3] == "88"                       # /dev/console is the pty (major 136)
    rt.ok("delete", "--force", cid)
    # a terminal without a console socket is refused for create
    r = rt.cmd("create", "--bundle", b, unique_id())
    assert r.returncode == 1 and "console socket" in r.stderr


def test_lsm_fields_ignored_with_a_warning_without_the_lsm(rt, make_bundle):
    """No AppArmor or SELinux on this host: pyrunc ignores the labels with a
    warning (crun's rule; runc errors). Documented in pyrunc/linux/lsm.py."""
    from pyrunc.linux import lsm
    if lsm.apparmor_enabled() or lsm.selinux_enabled():
        pytest.skip("this host has an LSM: the labels would be applied")

    def edit(c):
        c["process"]["apparmorProfile"] = "acme_secure_profile"
        c["process"]["selinuxLabel"] = "system_u:system_r:svirt_lxc_net_t:s0:c124,c675"
        c["linux"]["mountLabel"] = "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811"
    b = make_bundle(["true"], edit)
    r = rt.cmd("run", "--bundle", b, unique_id())
    assert r.returncode == 0
    assert "apparmorProfile 'acme_secure_profile' ignored: AppArmor is not enabled" in r.stderr
    assert "selinuxLabel" in r.stderr and "mountLabel" in r.stderr


def test_no_pivot_and_tmpcopyup(rt, make_bundle):
    def edit(c):
        c["mounts"].append({"destination": "/etc", "type": "tmpfs", "source": "tmpfs",
                            "options": ["tmpcopyup", "mode=755"]})
    b = make_bundle(["sh", "-c", "cat /etc/hostname; grep ' /etc ' /proc/self/mountinfo | "
                     "awk '{print $9}'; echo x > /etc/new && echo written"], edit)
    r = rt.ok("run", "--no-pivot", "--bundle", b, unique_id())
    assert r.stdout.split() == ["pyrunc", "tmpfs", "written"]
    assert not (b / "rootfs" / "etc" / "new").exists()


def test_tmpfs_modes(rt, make_bundle):
    """A tmpfs without mode= keeps the mode of the directory it covers (runc);
    tmpcopyup copies every mode as it is, whatever pyrunc's umask."""
    def edit(c):
        c["mounts"] += [
            {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": []},
            {"destination": "/data", "type": "tmpfs", "source": "tmpfs",
             "options": ["tmpcopyup"]}]
    b = make_bundle(["sh", "-c", "stat -c %a /scratch /data /data/sub /data/sub/f"], edit)
    r = b / "rootfs"
    os.mkdir(r / "scratch")
    os.chmod(r / "scratch", 0o750)
    os.makedirs(r / "data" / "sub")
    os.chmod(r / "data", 0o751)
    os.chmod(r / "data" / "sub", 0o777)
    (r / "data" / "sub" / "f").write_text("x")
    os.chmod(r / "data" / "sub" / "f", 0o666)
    old = os.umask(0o077)
    try:
        out = rt.ok("run", "--bundle", b, unique_id()).stdout.split()
    finally:
        os.umask(old)
    assert out == ["750", "751", "777", "666"]


def test_personality_and_scheduler(rt, make_bundle):
    def edit(c):
        c["linux"]["personality"] = {"domain": "LINUX32"}
        c["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 5}
        c["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_IDLE", "priority": 0}
    b = make_bundle(["sh", "-c", "uname -m; awk '{print $19, $41}' /proc/self/stat"], edit)
    out = rt.ok("run", "--bundle", b, unique_id()).stdout.split()
    assert out[0] in ("i686", "i386")
    assert out[1:] == ["5", "3"]        # nice 5, policy SCHED_BATCH


def test_kill_all_reaches_every_process_without_pid_namespace(rt, make_bundle, tmp_path):
    def edit(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]
    b = make_bundle(["sh", "-c", "probe sleep 60 & probe sleep 60 & wait"], edit)
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    assert wait_for(lambda: len(json.loads(rt.ok("ps", "--format", "json", cid).stdout)) == 3)
    procs = json.loads(rt.ok("ps", "--format", "json", cid).stdout)
    rt.ok("kill", "--all", cid, "KILL")
    assert wait_for(lambda: all(gone_or_zombie(p, "Z") for p in procs))
    # --all on the stopped container succeeds (runc)
    rt.ok("kill", "--all", cid, "KILL")
    rt.ok("delete", "--force", cid)


def test_kill_without_pid_namespace_kills_every_process(rt, make_bundle):
    """No pid namespace of its own: the other processes would outlive the
    init, so plain `kill KILL` signals the whole cgroup (runc)."""
    def edit(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]
    b = make_bundle(["sh", "-c", "probe sleep 60 & probe sleep 60 & wait"], edit)
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    assert wait_for(lambda: len(json.loads(rt.ok("ps", "--format", "json", cid).stdout)) == 3)
    procs = json.loads(rt.ok("ps", "--format", "json", cid).stdout)
    rt.ok("kill", cid, "KILL")
    assert wait_for(lambda: all(gone_or_zombie(p, "Z") for p in procs))
    # signal 0: only checks; on a stopped container it is "not running"
    r = rt.cmd("kill", cid, "0")
    assert r.returncode == 1 and "not running" in r.stderr
    rt.ok("delete", cid)


def test_listen_fds_socket_activation(rt, make_bundle, tmp_path):
    b = make_bundle(["sh", "-c", "echo $LISTEN_FDS $LISTEN_PID; probe fds"])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(tmp_path / "act.sock"))
    s.listen(1)

    def child():
        os.dup2(s.fileno(), 3)
    env = dict(os.environ, LISTEN_FDS="1")
    env.pop("LISTEN_PID", None)
    r = subprocess.run(PYRUNC + ["--root", rt.root, "run", "--bundle", str(b), unique_id()],
                       capture_output=True, text=True, close_fds=False, preexec_fn=child, env=env)
    s.close()
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "1 1"
    assert [l.split()[0] for l in lines[1:]] == ["0", "1", "2", "3"]
    assert "socket:" in lines[4]


def test_memory_policy(rt, make_bundle):
    def edit(c):
        c["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "0"}
    b = make_bundle(["sh", "-c", "grep -c ' bind:0' /proc/self/numa_maps"], edit)
    assert int(rt.ok("run", "--bundle", b, unique_id()).stdout.strip()) > 0

    def bad(c):
        c["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "63"}
    r = rt.cmd("run", "--bundle", make_bundle(["true"], bad), unique_id())
    assert r.returncode == 1 and "memoryPolicy" in r.stderr
    # a range no machine has is a config error before anything is made, not
    # a MemoryError (runc's suite: "0-9876543210")
    for nodes in ("0-9876543210", "5-2"):
        def huge(c, nodes=nodes):
            c["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": nodes}
        r = rt.cmd("run", "--bundle", make_bundle(["true"], huge), unique_id(), timeout=20)
        assert r.returncode == 1, r.stderr
        assert r.stderr.strip() == ("pyrunc: run: config.json: /linux/memoryPolicy/nodes: "
                                    "invalid memory policy node: %r is not a list of NUMA "
                                    "nodes below 1024" % nodes)
        assert rt.ids() == []
    # runc's words for what is wrong, where runc's suite looks for them
    for pol, words in (({}, "invalid memory policy mode"),
                       ({"mode": "INTERLEAVE"}, "invalid memory policy mode"),
                       ({"mode": "MPOL_BIND", "flags": ["x"]}, "invalid memory policy flag"),
                       ({"mode": "MPOL_DEFAULT", "nodes": "0-7"},
                        "MPOL_DEFAULT mode requires 0 nodes but got 8")):
        def edit(c, pol=pol):
            c["linux"]["memoryPolicy"] = pol
        r = rt.cmd("run", "--bundle", make_bundle(["true"], edit), unique_id())
        assert r.returncode == 1 and words in r.stderr, r.stderr
        assert len(r.stderr.splitlines()) == 1 and rt.ids() == []


def test_memory_policy_also_for_exec(rt, make_bundle):
    """An exec'd process runs under the container's memoryPolicy, as the
    init does (runc's memorypolicy.bats)."""
    def edit(c):
        c["linux"]["memoryPolicy"] = {"mode": "MPOL_PREFERRED", "nodes": "0",
                                      "flags": ["MPOL_F_RELATIVE_NODES"]}
    b = make_bundle(["sleep", "1000"], edit)
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    out = rt.ok("exec", cid, "sh", "-c", "head -n 1 /proc/self/numa_maps").stdout
    assert out.split()[1] == "prefer=relative:0", out
    rt.ok("delete", "--force", cid)


def test_unsupported_features_are_errors(rt, make_bundle):
    def netdev(c):
        c["linux"]["netDevices"] = {"eth9": {"name": "eth0"}}
    r = rt.cmd("run", "--bundle", make_bundle(["true"], netdev), unique_id())
    assert r.returncode == 1 and "netDevices" in r.stderr

    def rdt(c):
        c["linux"]["intelRdt"] = {"closID": "x"}
    r = rt.cmd("run", "--bundle", make_bundle(["true"], rdt), unique_id())
    assert r.returncode == 1 and "intelRdt" in r.stderr


def test_exec_cpu_affinity(rt, make_bundle, tmp_path):
    if os.cpu_count() < 2:
        pytest.skip("needs two CPUs")
    b = make_bundle(["probe", "sleep", "60"])
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    proc = {"args": ["sh", "-c", "grep Cpus_allowed_list /proc/self/status"], "cwd": "/",
            "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"],
            "execCPUAffinity": {"initial": "1"}}
    pf = tmp_path / "p.json"
    pf.write_text(json.dumps(proc))
    out = rt.ok("exec", "--process", pf, cid).stdout
    assert out.split()[-1] == "1"
    rt.ok("delete", "--force", cid)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two CPUs")
def test_cpu_affinity_of_the_caller_does_not_reach_the_container(rt, make_bundle):
    """`taskset -c 0 pyrunc run|exec`: the init and an exec'd process get
    every CPU their cpuset allows, not pyrunc's own affinity (runc's
    cpu_affinity.bats); with a cpuset of CPU 1 only, that is CPU 1."""
    def allowed(out):
        return [l.split()[1] for l in out.splitlines() if l.startswith("Cpus_allowed_list")]
    everything = allowed(open("/proc/self/status").read())[0]
    grep = ["grep", "Cpus_allowed_list", "/proc/self/status"]
    b = make_bundle(grep)
    r = subprocess.run(["taskset", "-c", "0"] + PYRUNC + ["--root", rt.root, "run", "--bundle",
                       str(b), unique_id()], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert allowed(r.stdout) == [everything]

    def one_cpu(cfg):
        cfg["linux"].setdefault("resources", {})["cpu"] = {"cpus": "1", "mems": "0"}
    b = make_bundle(["sleep", "1000"], one_cpu)
    cid = unique_id()
    r = subprocess.run(["taskset", "-c", "0"] + PYRUNC + ["--root", rt.root, "run", "-d",
                       "--bundle", str(b), cid], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    assert r.returncode == 0
    pid = rt.state(cid)["pid"]
    assert allowed(open("/proc/%d/status" % pid).read()) == ["1"]
    r = subprocess.run(["taskset", "-c", "0"] + PYRUNC + ["--root", rt.root, "exec", cid] + grep,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert allowed(r.stdout) == ["1"]
    rt.ok("delete", "--force", cid)


def test_exec_scheduler_survives_the_fork_into_the_pid_namespace(rt, make_bundle, tmp_path):
    """An exec'd process's own scheduler (SCHED_DEADLINE with
    SCHED_FLAG_RESET_ON_FORK) is what it runs with: set before the helper's
    fork it would be reset by that very fork (runc's scheduler.bats); an
    ioPriority with only its class is 0 of that class (runtime-spec schema)."""
    def edit(c):
        c["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 19}
    b = make_bundle(["sleep", "1000"], edit)
    cid = unique_id()
    rt.ok("run", "-d", "--bundle", b, cid)
    proc = {"terminal": False, "args": ["sleep", "600"], "cwd": "/",
            "scheduler": {"policy": "SCHED_DEADLINE", "flags": ["SCHED_FLAG_RESET_ON_FORK"],
                          "nice": 19, "priority": 0, "runtime": 42000, "deadline": 100000,
                          "period": 1000000}}
    pf, pidf = tmp_path / "p.json", tmp_path / "pid"
    pf.write_text(json.dumps(proc))
    rt.ok("exec", "-d", "--pid-file", pidf, "--process", pf, cid)
    pid = int(pidf.read_text())
    SCHED_DEADLINE, RESET_ON_FORK = 6, 0x40000000
    assert os.sched_getscheduler(pid) == SCHED_DEADLINE | RESET_ON_FORK
    # without its own, an exec'd process gets the config's (SCHED_BATCH, nice 19)
    out = rt.ok("exec", cid, "sh", "-c", "cat /proc/$$/stat").stdout
    assert out.rsplit(")", 1)[1].split()[16:17] == ["19"] and \
        out.rsplit(")", 1)[1].split()[38] == "3"
    pf.write_text(json.dumps({"terminal": False, "args": ["ionice"], "cwd": "/",
                              "ioPriority": {"class": "IOPRIO_CLASS_IDLE"}}))
    assert rt.ok("exec", "--process", pf, cid).stdout.strip() == "idle"
    rt.ok("delete", "--force", cid)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two CPUs")
def test_deadline_scheduler_with_a_cpuset_is_refused_in_runc_words(rt, make_bundle):
    def edit(c):
        c["process"]["scheduler"] = {"policy": "SCHED_DEADLINE", "nice": 19, "runtime": 42000,
                                     "deadline": 1000000, "period": 1000000}
        c["linux"].setdefault("resources", {})["cpu"] = {"cpus": "0", "mems": "0"}
    r = rt.cmd("run", "-d", "--bundle", make_bundle(["sleep", "100"], edit), unique_id())
    assert r.returncode == 1
    assert "process scheduler can't be used together with AllowedCPUs" in r.stderr
    assert len(r.stderr.splitlines()) == 1 and rt.ids() == []


def _flags_of(out):
    return set(out.strip().split(","))


def test_bind_options_replace_the_sources_flags(rt, make_bundle, tmp_path, traversable,
                                                mount_api):
    """A bind mount's flag options replace the source's per-mount flags as
    `mount --bind -o` would (runc's mounts_sshfs.bats): unnamed ro, nosuid,
    nodev, noexec and nosymfollow are cleared, atime stays unless named; no
    flag options keep them all. In a user namespace the kernel locks the
    source's flags on the copy: unnamed ones stay, clearing one fails."""
    src = tmp_path / "src"
    src.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(src)], check=True)
    try:
        subprocess.run(["mount", "--bind", "-o", "remount,ro,noexec,nosuid,nosymfollow,nodiratime",
                        str(src)], check=True)

        def flags(options, userns=False, ok=True):
            def edit(c):
                c["mounts"].append({"destination": "/tmp", "type": "bind", "source": str(src),
                                    "options": options})
                if userns:
                    c["linux"]["namespaces"].append({"type": "user"})
                    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000,
                                                  "size": 65536}]
                    c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000,
                                                  "size": 65536}]
                    c["mounts"] = [m for m in c["mounts"] if m["type"] not in ("cgroup",
                                                                                "sysfs")]
            b = make_bundle(["awk", "$2 == \"/tmp\" { print $4 }", "/proc/self/mounts"], edit)
            r = rt.cmd("run", "--bundle", b, unique_id())
            if not ok:
                return r
            assert r.returncode == 0, r.stderr
            return _flags_of(r.stdout)

        f = flags(["bind"])
        assert {"ro", "noexec", "nosuid", "nosymfollow", "nodiratime"} <= f
        f = flags(["bind", "dev"])
        assert "rw" in f and not f & {"ro", "noexec", "nosuid", "nosymfollow"}
        assert "nodiratime" in f                      # atime only when named
        f = flags(["bind", "nodev", "noatime"])
        assert {"rw", "nodev", "noatime"} <= f and not f & {"noexec", "nosuid"}
        # user namespace: the locked ones not named stay, nosymfollow is not lockable
        f = flags(["bind", "dev"], userns=True)
        assert {"ro", "noexec", "nosuid"} <= f and "nosymfollow" not in f
        r = flags(["bind", "rw"], userns=True, ok=False)
        assert r.returncode == 1 and "error mounting /tmp" in r.stderr and \
            "operation not permitted" in r.stderr, r.stderr
        assert rt.ids() == []
    finally:
        subprocess.run(["umount", "-l", str(src)])


def test_read_only_dev_is_made_read_only_last(rt, make_bundle, mount_api):
    """A /dev tmpfs with "ro": devpts, mqueue, shm and the device nodes still
    go below it, then it turns read-only (runc's mounts.bats, runc #3248)."""
    def edit(c):
        for m in c["mounts"]:
            if m["destination"] == "/dev":
                m["options"] = m.get("options", []) + ["ro"]
    b = make_bundle(["sh", "-c", "grep '^tmpfs /dev ' /proc/mounts; test -c /dev/null && "
                     "grep -c ' /dev/pts ' /proc/mounts; touch /dev/x 2>/dev/null || echo ro"],
                    edit)
    out = run_out(rt, b).splitlines()
    assert out[0].split()[3].startswith("ro,"), out
    assert out[1:] == ["1", "ro"]


def test_destinations_written_as_host_paths_in_the_rootfs(rt, make_bundle, tmp_path):
    """A destination that starts with the rootfs path is that place in the
    container, and a source inside the rootfs sees the mounts made before it
    (runc's "mount order" tests)."""
    a = tmp_path / "a"
    a.mkdir()
    (a / "file").write_text("from-a\n")
    box = {}

    def edit(c):
        rootfs = str(box["b"] / "rootfs")
        c["mounts"] += [
            {"destination": "/mnt", "type": "bind", "source": str(a), "options": ["rbind"]},
            {"destination": rootfs + "/final", "type": "bind", "source": rootfs + "/mnt",
             "options": ["rbind"]}]
    b = make_bundle(["cat", "/final/file"])
    box["b"] = b
    cfg = json.loads((b / "config.json").read_text())
    edit(cfg)
    (b / "config.json").write_text(json.dumps(cfg))
    (b / "rootfs" / "final").mkdir()
    assert run_out(rt, b) == "from-a\n"
    assert not (b / "rootfs" / "final" / "file").exists()     # not on the host


def test_user_namespace_binds_a_source_its_root_cannot_reach(rt, make_bundle, tmp_path,
                                                            traversable):
    """A bind source in a 0700 host directory: the container's root (host
    uid 100000) cannot open it, pyrunc copies the mount on the host before
    entering the user namespace (runc's userns.bats)."""
    hidden = tmp_path / "hidden"
    (hidden / "dir").mkdir(parents=True)
    (hidden / "dir" / "f").write_text("seen\n")
    os.chmod(hidden, 0o700)

    def edit(c):
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["mounts"] = [m for m in c["mounts"] if m["type"] not in ("cgroup", "sysfs")]
        c["mounts"].append({"destination": "/tmp/m", "type": "bind",
                            "source": str(hidden / "dir"), "options": ["bind"]})
    cid = unique_id()
    b = make_bundle(["sleep", "1000"], edit)
    rt.ok("run", "-d", "--bundle", b, cid)
    assert rt.ok("exec", cid, "cat", "/tmp/m/f").stdout == "seen\n"
    rt.ok("delete", "--force", cid)


def test_join_a_user_namespace_and_a_netns_it_does_not_own(rt, make_bundle, traversable):
    """Joining another container's user namespace and the host's network
    namespace: the netns is joined first, with the runtime's privileges (a
    user namespace's root cannot join a netns it does not own; runc's
    userns.bats)."""
    def owner(c):
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["mounts"] = [m for m in c["mounts"] if m["type"] not in ("cgroup", "sysfs")]
    a = unique_id()
    rt.ok("run", "-d", "--bundle", make_bundle(["sleep", "1000"], owner), a)
    pid = rt.state(a)["pid"]

    def joiner(c):
        owner(c)
        c["linux"].pop("uidMappings")
        c["linux"].pop("gidMappings")
        for n in c["linux"]["namespaces"]:
            if n["type"] == "user":
                n["path"] = "/proc/%d/ns/user" % pid
            if n["type"] == "network":
                n["path"] = "/proc/self/ns/net"      # pyrunc's own: the host's
    b = unique_id()
    rt.ok("run", "-d", "--bundle", make_bundle(["sleep", "1000"], joiner), b)
    out = rt.ok("exec", b, "sh", "-c", "readlink /proc/self/ns/user; readlink /proc/self/ns/net").stdout
    assert out.split() == [os.readlink("/proc/%d/ns/user" % pid), os.readlink("/proc/self/ns/net")]
    rt.ok("delete", "--force", b)
    rt.ok("delete", "--force", a)


def test_host_copy_of_an_unreachable_source_keeps_the_kernels_locks(rt, make_bundle, tmp_path,
                                                                    traversable):
    """The copy pyrunc makes on the host for a source the user namespace's
    root cannot reach follows the rules of a copy made inside: unnamed
    ro/noexec stay, clearing ro fails (runc's mounts_sshfs.bats, userns)."""
    hidden = tmp_path / "hidden"
    src = hidden / "src"
    src.mkdir(parents=True)
    os.chmod(hidden, 0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(src)], check=True)
    try:
        subprocess.run(["mount", "--bind", "-o", "remount,ro,noexec", str(src)], check=True)

        def run(options):
            def edit(c):
                c["linux"]["namespaces"].append({"type": "user"})
                c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000,
                                              "size": 65536}]
                c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000,
                                              "size": 65536}]
                c["mounts"] = [m for m in c["mounts"] if m["type"] not in ("cgroup", "sysfs")]
                c["mounts"].append({"destination": "/tmp/m", "type": "bind",
                                    "source": str(src), "options": options})
            b = make_bundle(["awk", "$2 == \"/tmp/m\" { print $4 }", "/proc/self/mounts"],
                            edit)
            return rt.cmd("run", "--bundle", b, unique_id())
        r = run(["bind", "dev"])
        assert r.returncode == 0, r.stderr
        assert {"ro", "noexec"} <= set(r.stdout.strip().split(","))
        r = run(["bind", "rw"])
        assert r.returncode == 1 and "operation not permitted" in r.stderr, r.stderr
        assert rt.ids() == []
    finally:
        subprocess.run(["umount", "-l", str(src)])
