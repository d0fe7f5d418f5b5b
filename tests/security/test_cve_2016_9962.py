"""CVE-2016-9962: a process in the container races `pyrunc exec` and tries
to read the runtime's helpers through /proc/<pid> (exe, cwd, fd/*).

No process of pyrunc's python enters a pid namespace that container
processes live in (the sealed init helper forks the process into it), and
every pyrunc process in container namespaces is non-dumpable until the
final execve, so no PTRACE_MODE_READ access succeeds; what the container
may see afterwards is its own process (busybox, /dev/null, the pty).

The attacker is tests/security/attacker.c (`attacker watch`), pid 1 of
the container; it logs every successful access. A success is a leak when
it names or reaches something of the host: a file that is not part of the
rootfs (the interpreter, libpython, pyrunc's shim), a path under the
state root / bundle / pyrunc package / host cgroupfs, or a pipe, socket or
anonymous inode of the runtime.
"""
from raceutil import (N_PLAIN, N_PRESERVE, N_TTY, attack_bundle, default_jobs, leaks, race,
                      seen_pids)
from secutil import ALL_CAPS, attacker_bin, host_python_files, weak_env  # noqa: F401


def test_container_cannot_read_exec_helpers_through_proc(rt, make_bundle, attacker_bin, tmp_path):
    """Default capabilities (no CAP_SYS_PTRACE), 150 racing execs (plain,
    --tty with --console-socket, --preserve-fds)."""
    results = tmp_path / "results"
    results.mkdir()
    b = attack_bundle(make_bundle, attacker_bin, results)
    lines, ok, failures, stdio = race(rt, b, results, tmp_path)
    # (a failing `exec --tty` is test_cve_2025_52565's business, not this test's)
    failures = [f for f in failures if not f.startswith("tty:")]
    assert not failures, failures[:5]
    assert ok >= N_PLAIN + N_PRESERVE
    # the attacker really raced: it saw most exec'd processes
    assert len(seen_pids(lines)) >= (N_PLAIN + N_TTY + N_PRESERVE) // 2, lines[:20]
    bad = leaks(lines, b / "rootfs", (rt.root, tmp_path), stdio)
    assert not bad, "the container reached host resources of the runtime:\n" + "\n".join(bad[:40])


STRONG = [c for c in ALL_CAPS if c != "CAP_SYS_PTRACE"]


def test_strong_attacker_without_ptrace_cap_still_sees_nothing(rt, make_bundle, attacker_bin,
                                                                tmp_path):
    """The attacker holds every capability the runtime holds, except
    CAP_SYS_PTRACE (the runtime's execs run without it as well, as when
    pyrunc itself runs in a container without CAP_SYS_PTRACE), so the
    kernel's capability-subset rule does not protect the runtime's helpers:
    only their non-dumpable state does.

    This caught the window between execve() of the init helper (which
    resets the task to dumpable) and the helper's first
    prctl(PR_SET_DUMPABLE, 0), in which a container process read the
    helper's fds: the report pipe and the then unsealed, writable plan
    memfd (FDWOPEN lines)."""
    results = tmp_path / "results"
    results.mkdir()
    b = attack_bundle(make_bundle, attacker_bin, results, caps=STRONG)
    lines, ok, failures, stdio = race(rt, b, results, tmp_path,
                                      jobs=default_jobs(80, 0, 0), drop_ptrace=True)
    assert ok == 80, failures[:5]
    assert len(seen_pids(lines)) >= 40
    bad = leaks(lines, b / "rootfs", (rt.root, tmp_path), stdio)
    assert not bad, "the container reached host resources of the runtime:\n" + "\n".join(bad[:40])


def test_strong_attacker_weakened_build_is_caught(rt, make_bundle, attacker_bin, tmp_path):
    """Same attack against a pyrunc whose PR_SET_DUMPABLE(0) calls are
    no-ops and whose python enters the pid namespace (both barriers
    removed): the attacker must now reach the host interpreter through
    /proc/<pid>/exe and the runtime's fds, i.e. the check above can fail."""
    results = tmp_path / "results"
    results.mkdir()
    b = attack_bundle(make_bundle, attacker_bin, results, caps=STRONG)
    python_ids = set(host_python_files())

    def caught(lines):
        return any(l.startswith("EXEID") and
                   (int(l.split()[2]), int(l.split()[3])) in python_ids for l in lines)
    lines, _ok, _f, stdio = race(rt, b, results, tmp_path, jobs=default_jobs(80, 0, 0),
                                 drop_ptrace=True, env=weak_env("dumpable,pidfork"), stop_early=caught)
    bad = leaks(lines, b / "rootfs", (rt.root, tmp_path), stdio)
    assert bad, "the weakened runtime was not caught"
    assert caught(lines), "no /proc/<pid>/exe of the host interpreter was reached:\n" + \
        "\n".join(bad[:40])
