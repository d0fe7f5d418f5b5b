"""A deliberately *weakened* pyrunc, for tests/security only.

Put this directory on PYTHONPATH and list the protections to remove in
PYRUNC_TEST_WEAKEN (comma separated); every pyrunc process started with
that environment then runs with these functions replaced (secutil.weak_env):

  paths       pyrunc.linux.paths.open_in_root / mkdir_all / create_file
              resolve by string on the host (os.open/os.makedirs), following
              symlinks as the host sees them: the pre-CVE-2021-30465,
              CVE-2024-45310, CVE-2026-41579 and CVE-2023-27561 behaviour.
  devnull     pyrunc.linux.rootfs.open_host_devnull opens the container's
              /dev/null (following symlinks, unverified): CVE-2025-31133.
  cwd         pyrunc.linux.process.chdir without the verification that the
              new cwd is inside the container's root: CVE-2024-21626.
  closerange  Syscalls.close_range does nothing: fds leaked by the caller stay
              open in the waiting init (CVE-2024-21626's fd hygiene).
  execfds     exec does not close the caller's fds in the container's
              namespaces (the second barrier behind the cwd check).
  dumpable    Syscalls.prctl(PR_SET_DUMPABLE, 0) does nothing: pyrunc's
              processes in container namespaces stay dumpable (CVE-2016-9962).
  cgroupmount the container's cgroup filesystems are mounted before its init
              is in its cgroup and cgroup namespace (rootfs.prepare gets no
              before_cgroup step): a cgroup2 mount is then the host's whole
              tree (CVE-2022-0492's precondition).
  pidfork     a python process of pyrunc enters the container's pid
              namespace before the init helper runs (exec, and create
              joining a pid namespace), and stays there for the few
              milliseconds its set-up took: pyrunc before the helper forked
              the process itself (CVE-2019-5736 against privileged
              containers).

It never changes the files of the installed pyrunc.
"""
import os

_W = {w for w in os.environ.get("PYRUNC_TEST_WEAKEN", "").split(",") if w}


def _weaken():
    if not _W:
        return
    import stat
    import sys

    if "paths" in _W:
        from pyrunc.linux import paths

        def _host(rootfd, path):
            # the container path joined to the rootfs and resolved as the
            # host sees it (symlinks followed against the host's /)
            root = os.readlink("/proc/self/fd/%d" % rootfd)
            return os.path.realpath(os.path.join(root, path.lstrip("/")))

        def open_in_root(sysc, rootfd, path, flags=os.O_PATH | os.O_CLOEXEC, resolve=0):
            return os.open(_host(rootfd, path), flags)

        def mkdir_all(sysc, rootfd, path, mode=0o755):
            p = _host(rootfd, path)
            os.makedirs(p, mode, exist_ok=True)
            return os.open(p, os.O_PATH | os.O_CLOEXEC)

        def create_file(sysc, rootfd, path, mode=0o644):
            p = _host(rootfd, path)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            if not os.path.exists(p):
                os.close(os.open(p, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, mode))
            return os.open(p, os.O_PATH | os.O_CLOEXEC)

        paths.open_in_root = open_in_root
        paths.mkdir_all = mkdir_all
        paths.create_file = create_file

    if "devnull" in _W:
        from pyrunc.linux import rootfs as lrootfs

        def open_host_devnull(sysc):
            # the container's /dev/null, as the vulnerable runtimes did
            rootfs = sys._getframe(1).f_locals["rootfs"]
            return os.open(os.path.join(rootfs, "dev/null"), os.O_PATH | os.O_CLOEXEC)

        lrootfs.open_host_devnull = open_host_devnull

    if "cwd" in _W:
        from pyrunc.linux import process

        def chdir(cwd):
            # exec's set-up runs outside the container's pid namespace, where
            # /proc/self of the container's procfs does not resolve: follow
            # /proc/self/fd/N to our own fd N, as it would for a runtime
            # inside that namespace (the pre-fix behaviour)
            parts = cwd.split("/")
            if cwd.startswith("/proc/self/fd/") and parts[4].isdigit():
                os.fchdir(int(parts[4]))
                rest = "/".join(parts[5:])
                if rest:
                    os.chdir(rest)
                return
            os.chdir(cwd)

        process.chdir = chdir

    if "execfds" in _W:
        from pyrunc.lifecycle import exec as lexec
        lexec._close_stray_fds = lambda prep, sock, rep_w: None

    if "cgroupmount" in _W:
        from pyrunc.linux import rootfs as lrootfs
        orig_prepare = lrootfs.prepare

        def prepare(sysc, config, rootfs, in_userns, steps, nodes, mount_label=None,
                    before_cgroup=None):
            return orig_prepare(sysc, config, rootfs, in_userns, steps, nodes, mount_label,
                                None)

        lrootfs.prepare = prepare

    if "pidfork" in _W:
        from pyrunc.lifecycle import init

        orig_exec_helper = init.exec_helper

        def exec_helper(sysc, sock, plan, prep, report_fd):
            from pyrunc.linux import process as lproc
            # F_FORK: the process is about to be forked into a pid namespace
            # that we are not in (our /proc/self may not even resolve there)
            if plan.flags & lproc.F_FORK:
                if os.fork() == 0:
                    import time
                    time.sleep(0.05)
                    os._exit(0)
            return orig_exec_helper(sysc, sock, plan, prep, report_fd)

        init.exec_helper = exec_helper

    if "closerange" in _W or "dumpable" in _W:
        from pyrunc.linux import sys as S
        if "closerange" in _W:
            S.Syscalls.close_range = lambda self, first, last=0xFFFFFFFF, flags=0: 0
        if "dumpable" in _W:
            orig = S.Syscalls.prctl

            def prctl(self, option, a2=0, a3=0, a4=0, a5=0):
                if option == S.PR_SET_DUMPABLE and a2 == 0:
                    return 0
                return orig(self, option, a2, a3, a4, a5)

            S.Syscalls.prctl = prctl
    del stat


_weaken()
