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

This module imports nothing at load time (the CLI imports it for every
command): each method imports what it needs.
"""

_ROOTLESS = {None: None, True: "true", False: "false"}

# exec's options: the dests of `pyrunc exec`'s flags, their parser defaults
_EXEC_OPTS = {
    "process": None, "detach": False, "pid_file": None, "tty": False,
    "console_socket": None, "preserve_fds": None, "cwd": None, "env": [], "user": None,
    "additional_gids": [], "cap": [], "no_new_privs": False, "apparmor": None,
    "process_label": None, "cgroup": [], "ignore_paused": False, "pidfd_socket": None,
}
_EXEC_LISTS = ("env", "additional_gids", "cap", "cgroup")


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
        import os
        from pyrunc.cli import Ctx
        if rootless is None or isinstance(rootless, bool):
            rootless = _ROOTLESS[rootless]
        elif not isinstance(rootless, str):     # (a str: as the CLI's true|false|auto)
            raise TypeError("rootless: None, True or False, not %r" % (rootless,))
        if root is not None:
            root = os.path.abspath(os.fspath(root))   # a later chdir does not move it
        self._ctx = Ctx({"root": root, "rootless": rootless, "debug": bool(debug),
                         "systemd_cgroup": bool(systemd_cgroup), "criu": criu}, None)
        self._mine = {}
        self._restore = True
        if debug:
            from pyrunc import log
            log._target["debug"] = True

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

    # -- the lifecycle ------------------------------------------------------

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
        import os
        from pyrunc.lifecycle.run import run
        opts = {"bundle": bundle, "detach": detach, "pid_file": pid_file,
                "console_socket": console_socket, "no_pivot": no_pivot,
                "preserve_fds": preserve_fds or 0, "pidfd_socket": pidfd_socket, "keep": keep}
        taken = os.path.isdir(os.path.join(self._ctx.root, id))
        saved = _save_foreground() if self._restore and not detach else None
        try:
            status = run(self._ctx, id, opts)
        except BaseException as e:
            from pyrunc.errors import ContainerExists
            if not taken and not isinstance(e, ContainerExists):
                self._adopt(id)     # e.g. interrupted while waiting: it is ours
            raise
        finally:
            if saved is not None:
                _restore_foreground(saved)
        if detach or keep:
            self._adopt(id)
        return status

    def exec(self, id, args=(), **opts):
        """Run a new process in a running container; its exit status (0 when
        detached). opts are `pyrunc exec`'s flags by dest: detach, tty, cwd,
        env (list of NAME=value), user ("uid[:gid]"), additional_gids, cap,
        no_new_privs, process (a process.json path, instead of args),
        pid_file, console_socket, preserve_fds, cgroup, ignore_paused,
        pidfd_socket, apparmor, process_label."""
        from pyrunc.lifecycle.exec import exec_
        unknown = set(opts) - _EXEC_OPTS.keys()
        if unknown:
            raise TypeError("exec() got unexpected keyword argument(s): %s"
                            % ", ".join(sorted(unknown)))
        if isinstance(args, (str, bytes)):
            raise TypeError("exec(): args is a list of strings, not %r" % (args,))
        o = dict(_EXEC_OPTS)
        o.update(opts)
        for k in _EXEC_LISTS:
            o[k] = list(o[k] or ())
        if isinstance(o["user"], int):
            o["user"] = str(o["user"])
        o["args"] = list(args)
        saved = _save_foreground() if self._restore and not o["detach"] else None
        try:
            return exec_(self._ctx, id, o)
        finally:
            if saved is not None:
                _restore_foreground(saved)

    def list(self):
        """The state dicts of every container under the root. A root given
        explicitly that does not exist is an error (as `pyrunc --root R list`)."""
        from pyrunc.errors import NotFound
        from pyrunc.state import Store
        store = self._store_for_list()
        states = []
        for i in store.ids():
            try:
                states.append(store.load(i).state_json())
            except NotFound:
                continue
        return states

    def ids(self):
        """The ids under the root (as `pyrunc list -q`), without loading states."""
        return self._store_for_list().ids()

    def pause(self, id):
        """Freeze every process of a running container."""
        from pyrunc.lifecycle.pause import pause
        pause(self._ctx, id)

    def resume(self, id):
        """Thaw a paused container."""
        from pyrunc.lifecycle.pause import resume
        resume(self._ctx, id)

    # -- the context manager ------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        """Force-delete what this object created and still exists; a cleanup
        error is raised only when the block itself raised nothing."""
        first = None
        for cid in reversed(list(self._mine)):
            try:
                self._delete_mine(cid)
            except Exception as e:
                if first is None:
                    first = e
        if first is not None and exc_type is None:
            raise first
        return False

    # -- helpers --------------------------------------------------------------

    def _store_for_list(self):
        import os
        from pyrunc.errors import PyruncError
        from pyrunc.state import Store
        store = Store(self._ctx.root)
        if self._ctx.root_given and not os.path.isdir(store.root):
            # the default root may not exist yet (nothing created); a root the
            # caller named must (runc)
            raise PyruncError("open %s: no such file or directory" % store.root)
        return store

    def _adopt(self, id):
        """Remember container id (just made by run) for __exit__, with the
        creation time that tells it from a later container of that id."""
        from pyrunc.errors import PyruncError
        from pyrunc.state import Store
        try:
            self._mine[id] = Store(self._ctx.root).load(id).data.get("created")
        except (PyruncError, OSError):
            pass

    def _delete_mine(self, id):
        from pyrunc.errors import NotFound
        from pyrunc.state import Store
        created = self._mine.pop(id)
        try:
            c = Store(self._ctx.root).load(id)
        except NotFound:
            return
        if created is not None and c.data.get("created") != created:
            return      # deleted and made again by someone else: not ours
        from pyrunc.lifecycle.delete import delete
        delete(self._ctx, id, force=True)


def _save_foreground():
    """What run and exec in the foreground change in this process: the
    handlers of the signals they forward, and the child subreaper flag."""
    import _signal
    from pyrunc.lifecycle.common import FORWARD_SIGNALS
    from pyrunc.linux.sys import real
    handlers = [(s, _signal.getsignal(s)) for s in FORWARD_SIGNALS]
    sysc = real()
    flag = sysc._ffi.new("int *")
    try:
        sysc.prctl(37, int(sysc._ffi.cast("uintptr_t", flag)))   # PR_GET_CHILD_SUBREAPER
        subreaper = flag[0]
    except OSError:
        subreaper = None
    return handlers, subreaper


def _restore_foreground(saved):
    import _signal
    from pyrunc.linux.sys import PR_SET_CHILD_SUBREAPER, real
    handlers, subreaper = saved
    for s, h in handlers:
        if h is None:
            continue        # a handler Python did not install: cannot be put back
        try:
            _signal.signal(s, h)
        except (OSError, ValueError, TypeError):
            pass
    if subreaper == 0:
        try:
            real().prctl(PR_SET_CHILD_SUBREAPER, 0)
        except OSError:
            pass
