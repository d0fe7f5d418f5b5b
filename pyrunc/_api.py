"""The parts of pyrunc.Runtime (pyrunc/api.py) that the CLI's state, start,
kill, delete, pause and resume never need, kept out of the module every
command imports."""

_ROOTLESS = {None: None, True: "true", False: "false"}

# exec's options: the dests of `pyrunc exec`'s flags, their parser defaults
_EXEC_OPTS = {
    "process": None, "detach": False, "pid_file": None, "tty": False,
    "console_socket": None, "preserve_fds": None, "cwd": None, "env": [], "user": None,
    "additional_gids": [], "cap": [], "no_new_privs": False, "apparmor": None,
    "process_label": None, "cgroup": [], "ignore_paused": False, "pidfd_socket": None,
}
_EXEC_LISTS = ("env", "additional_gids", "cap", "cgroup")


def make_ctx(root, systemd_cgroup, rootless, debug, criu):
    """A command line's context (pyrunc.cli.Ctx: its rule for the default
    root) from Runtime's keywords."""
    import os
    from pyrunc.cli import Ctx
    if rootless is None or isinstance(rootless, bool):
        rootless = _ROOTLESS[rootless]
    elif not isinstance(rootless, str):     # (a str: as the CLI's true|false|auto)
        raise TypeError("rootless: None, True or False, not %r" % (rootless,))
    if root is not None:
        root = os.path.abspath(os.fspath(root))     # a later chdir does not move it
    ctx = Ctx({"root": root, "rootless": rootless, "debug": bool(debug),
               "systemd_cgroup": bool(systemd_cgroup), "criu": criu}, None)
    if debug:
        from pyrunc import log
        log._target["debug"] = True
    return ctx


def run(rt, id, opts):
    import os
    from pyrunc.lifecycle.run import run
    taken = os.path.isdir(os.path.join(rt._ctx.root, id))
    try:
        status = _foreground(rt, opts["detach"], run, rt._ctx, id, opts)
    except BaseException as e:
        from pyrunc.errors import ContainerExists
        if not taken and not isinstance(e, ContainerExists):
            adopt(rt, id)       # e.g. interrupted while waiting: it is ours
        raise
    if opts["detach"] or opts["keep"]:
        adopt(rt, id)
    return status


def exec_(rt, id, args, opts):
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
    return _foreground(rt, o["detach"], exec_, rt._ctx, id, o)


def store_for_list(ctx):
    import os
    from pyrunc.errors import PyruncError
    from pyrunc.state import Store
    store = Store(ctx.root)
    if ctx.root_given and not os.path.isdir(store.root):
        # the default root may not exist yet (nothing created); a root the
        # caller named must (runc)
        raise PyruncError("open %s: no such file or directory" % store.root)
    return store


def states(ctx):
    from pyrunc.errors import NotFound
    store = store_for_list(ctx)
    out = []
    for i in store.ids():
        try:
            out.append(store.load(i).state_json())
        except NotFound:
            continue
    return out


def adopt(rt, id):
    """Remember container id (just made by run) for __exit__, with the
    creation time that tells it from a later container of that id."""
    from pyrunc.errors import PyruncError
    from pyrunc.state import Store
    try:
        rt._mine[id] = Store(rt._ctx.root).load(id).data.get("created")
    except (PyruncError, OSError):
        pass


def cleanup(rt, may_raise):
    """Runtime.__exit__: force-delete the containers rt made that still
    exist; the first error is raised when may_raise, after trying all."""
    first = None
    for cid in reversed(list(rt._mine)):
        try:
            _delete_mine(rt, cid)
        except Exception as e:
            if first is None:
                first = e
    if first is not None and may_raise:
        raise first


def _delete_mine(rt, id):
    from pyrunc.errors import NotFound
    from pyrunc.state import Store
    created = rt._mine.pop(id)
    try:
        c = Store(rt._ctx.root).load(id)
    except NotFound:
        return
    if created is not None and c.data.get("created") != created:
        return      # deleted and made again by someone else: not ours
    from pyrunc.lifecycle.delete import delete
    delete(rt._ctx, id, force=True)


def _foreground(rt, detach, fn, *args):
    """fn(*args) (run or exec); in the foreground of a Runtime that is not
    the CLI's, the handlers of the signals they forward and the child
    subreaper flag are put back afterwards."""
    if detach or not rt._restore:
        return fn(*args)
    import _signal
    from pyrunc.lifecycle.common import FORWARD_SIGNALS
    from pyrunc.linux.sys import PR_SET_CHILD_SUBREAPER, real
    handlers = [(s, _signal.getsignal(s)) for s in FORWARD_SIGNALS]
    sysc = real()
    flag = sysc._ffi.new("int *")
    try:
        sysc.prctl(37, int(sysc._ffi.cast("uintptr_t", flag)))   # PR_GET_CHILD_SUBREAPER
        subreaper = flag[0]
    except OSError:
        subreaper = None
    try:
        return fn(*args)
    finally:
        for s, h in handlers:
            if h is None:
                continue        # a handler Python did not install: cannot be put back
            try:
                _signal.signal(s, h)
            except (OSError, ValueError, TypeError):
                pass
        if subreaper == 0:
            try:
                sysc.prctl(PR_SET_CHILD_SUBREAPER, 0)
            except OSError:
                pass
