"""pyrunc's Python API: Runtime, one state root's containers as methods.

    from pyrunc import Runtime
    with Runtime(root="/run/myapp") as rt:
        rt.create("web", "/srv/bundle")
        rt.start("web")
        rt.exec("web", ["sh", "-c", "echo hi"])     # -> 0
    # leaving the block force-deleted "web"

The command line is a thin layer over this class (pyrunc/cli/*.py build it
with Runtime.from_ctx): errors are the exceptions of pyrunc.errors, never
exit statuses. Every operation runs in the calling process, as the CLI's
does: create and exec fork it; run and exec in the foreground forward its
signals to the container's process, make it a child subreaper and reap
its children (os.waitpid(-1), so other children of the caller exiting
meanwhile are reaped too) until that process exits -- the signal handlers
and the subreaper flag are put back afterwards. Call them from the main
thread (signals are forwarded only there) of a process without other
threads that fork or wait for children.

The CLI imports this module for every command: it imports nothing at load
time, and what state, start, kill... do not need (building a context from
keywords, run's and exec's options, the context manager's cleanup) is in
pyrunc/_api.py, loaded on first use.
"""


class Runtime:
    """The containers under one state root.

    root: the state directory; None is the CLI's default (/run/pyrunc, or
    $XDG_RUNTIME_DIR/pyrunc when rootless). systemd_cgroup, rootless
    (None: auto), debug (turns on pyrunc's debug log lines, process-wide)
    and criu are the CLI's global flags of the same names.

    As a context manager, leaving the block force-deletes every container
    this object created (create, run detached, or a run that left one)
    that still exists.
    """

    __slots__ = ("_ctx", "_mine", "_restore")

    def __init__(self, root=None, *, systemd_cgroup=False, rootless=None, debug=False,
                 criu=None):
        from pyrunc._api import make_ctx
        self._ctx = make_ctx(root, systemd_cgroup, rootless, debug, criu)
        self._mine = {}         # id -> its "created" time: what __exit__ deletes
        self._restore = True    # put back what run/exec change in this process

    @classmethod
    def from_ctx(cls, ctx):
        """The Runtime of a command line's context (pyrunc.cli.Ctx). The
        command line's process exits after one operation: run and exec leave
        its signal handlers and subreaper flag as they set them."""
        rt = cls.__new__(cls)
        rt._ctx = ctx
        rt._mine = {}
        rt._restore = False
        return rt

    @property
    def root(self):
        return self._ctx.root

    def __repr__(self):
        return "Runtime(root=%r)" % self._ctx.root

    def create(self, id, bundle, *, pid_file=None, console_socket=None, no_pivot=False,
               preserve_fds=0, pidfd_socket=None):
        """Create container `id` from `bundle`; its process waits for start().
        ContainerExists when the id is taken, ConfigError for a bad config."""
        from pyrunc.lifecycle.create import create
        c = create(self._ctx, id, bundle, pid_file=pid_file, console_socket=console_socket,
                   no_pivot=no_pivot, pidfd_socket=pidfd_socket,
                   preserve_fds=preserve_fds or 0)
        self._mine[id] = c.data.get("created")

    def start(self, id):
        """Start the process of a created container."""
        from pyrunc.lifecycle.start import start
        start(self._ctx, id)

    def state(self, id):
        """The state as `pyrunc state` prints it, as a dict; NotFound if unknown."""
        from pyrunc.state import Store
        return Store(self._ctx.root).load(id).state_json()

    def kill(self, id, signal="TERM", all=False):
        """Send signal (a name, with or without SIG, or a number; default
        TERM) to the init, or with all=True to every process of the container."""
        from pyrunc.lifecycle.kill import kill, parse_signal
        if isinstance(signal, int) and not isinstance(signal, bool):
            signal = str(int(signal))
        elif signal is not None and not isinstance(signal, str):
            raise TypeError("signal: a name or a number, not %r" % (signal,))
        kill(self._ctx, id, parse_signal(signal), all)

    def delete(self, id, force=False):
        """Delete a stopped container (force: any, killed first). With force
        an unknown id is not an error."""
        from pyrunc.lifecycle.delete import delete
        delete(self._ctx, id, force)
        self._mine.pop(id, None)

    def run(self, id, bundle, detach=False, *, pid_file=None, console_socket=None,
            no_pivot=False, preserve_fds=0, pidfd_socket=None, keep=False):
        """create + start; detached: return 0 once it runs. Otherwise wait
        for the process and return its exit status (128+N when killed by
        signal N) after deleting the container (unless keep)."""
        from pyrunc._api import run
        return run(self, id, {
            "bundle": bundle, "detach": detach, "pid_file": pid_file,
            "console_socket": console_socket, "no_pivot": no_pivot,
            "preserve_fds": preserve_fds or 0, "pidfd_socket": pidfd_socket, "keep": keep})

    def exec(self, id, args=(), **opts):
        """Run a new process in a running container; its exit status (0 when
        detached). opts are `pyrunc exec`'s flags by dest: detach, tty, cwd,
        env (list of NAME=value), user ("uid[:gid]"), additional_gids, cap,
        no_new_privs, process (a process.json path, instead of args),
        pid_file, console_socket, preserve_fds, cgroup, ignore_paused,
        pidfd_socket, apparmor, process_label."""
        from pyrunc._api import exec_
        return exec_(self, id, args, opts)

    def list(self):
        """The state dicts of every container under the root. A root given
        explicitly that does not exist is an error (as `pyrunc --root R list`)."""
        from pyrunc._api import states
        return states(self._ctx)

    def ids(self):
        """The ids under the root (as `pyrunc list -q`), without loading states."""
        from pyrunc._api import store_for_list
        return store_for_list(self._ctx).ids()

    def pause(self, id):
        """Freeze every process of a running container."""
        from pyrunc.lifecycle.pause import pause
        pause(self._ctx, id)

    def resume(self, id):
        """Thaw a paused container."""
        from pyrunc.lifecycle.pause import resume
        resume(self._ctx, id)

    def plan(self, bundle, id=None):
        """Everything create(id, bundle) would do, as a dict (`pyrunc plan
        --format json`), without doing any of it. What would fail is in
        plan["problems"] ({"path", "error"}); nothing is raised for those."""
        from pyrunc.lifecycle.plan_report import plan_bundle
        return plan_bundle(self._ctx, bundle, id)

    def validate(self, bundle):
        """Check a bundle as create would, reporting every problem at once:
        InvalidBundle (a ConfigError) with .problems, a list of (JSON path,
        text), when there is any."""
        from pyrunc.lifecycle.plan_report import validate_bundle
        problems = validate_bundle(bundle)
        if problems:
            from pyrunc.errors import InvalidBundle
            raise InvalidBundle(problems)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        """Force-delete what this object created and still exists; a cleanup
        error is raised only when the block itself raised nothing."""
        from pyrunc._api import cleanup
        cleanup(self, exc_type is None)
        return False
