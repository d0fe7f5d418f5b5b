"""pyrunc's command line: global flags, dispatch, and error reporting.

One module per command (pyrunc/cli/<command>.py), imported only when that
command runs. Each module defines SYNOPSIS, DESCRIPTION, FLAGS, NARGS and
run(ctx, opts, args) -> exit status.
"""
import os
import sys

from pyrunc.cli.args import parse, usage

COMMANDS = {
    "checkpoint": "checkpoint", "create": "create", "delete": "delete",
    "events": "events", "exec": "exec_", "features": "features", "kill": "kill",
    "list": "list_", "pause": "pause", "plan": "plan", "ps": "ps", "restore": "restore",
    "resume": "resume", "run": "run", "spec": "spec", "start": "start",
    "state": "state", "update": "update", "validate": "validate",
}

GLOBAL_FLAGS = (
    (("--root",), "str", "root", "root directory for storage of container state"),
    (("--log",), "str", "log", "append errors and warnings to this file"),
    (("--log-format",), "str", "log_format", "log format: text or json"),
    (("--debug",), "bool", "debug", "debug output (tracebacks)"),
    (("--systemd-cgroup",), "bool", "systemd_cgroup", "manage cgroups through systemd"),
    (("--rootless",), "str", "rootless", "ignore cgroup permission errors (true|false|auto)"),
    (("--criu",), "str", "criu", "path to the criu binary (default: criu)"),
    (("--version", "-v"), "bool", "version", "print the version"),
    (("--help", "-h"), "bool", "help", "show help"),
)

DEFAULT_ROOT = "/run/pyrunc"


class Ctx:
    __slots__ = ("root", "root_given", "debug", "systemd_cgroup", "_rootless", "command",
                 "criu")

    def __init__(self, g, command):
        self._rootless = _rootless_flag(g["rootless"])
        self.root = g["root"] or _default_root(self)
        self.root_given = bool(g["root"])
        self.debug = g["debug"]
        self.systemd_cgroup = g["systemd_cgroup"]
        self.command = command
        self.criu = g["criu"]

    @property
    def rootless(self):
        """--rootless auto (the default): rootless when not root, or root only
        inside a user namespace (e.g. under rootless podman). Decided on
        first use: most calls (state, kill...) never need it."""
        if self._rootless is None:
            if os.geteuid() != 0:
                self._rootless = True
            else:
                from pyrunc.linux import in_userns
                self._rootless = in_userns()
        return self._rootless


def _rootless_flag(value):
    """--rootless true|false|auto: True, False, or None (auto, decided later)."""
    if value in (None, "", "auto"):
        return None
    if value in ("true", "false"):
        return value == "true"
    from pyrunc.errors import UsageError
    raise UsageError("--rootless: %r is not true, false or auto" % value)


def _default_root(ctx):
    """runc's rule: $XDG_RUNTIME_DIR/pyrunc for a rootless caller that has one."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and ctx.rootless:
        return os.path.join(xdg, "pyrunc")
    return DEFAULT_ROOT


def _version():
    from pyrunc import OCI_VERSION, __version__
    sys.stdout.write("pyrunc version %s\ncommit: none\nspec: %s\npython: %s\n" % (
        __version__, OCI_VERSION, sys.version.split()[0]))
    return 0


def _main_usage():
    lines = ["NAME:", "   pyrunc - Open Container Initiative runtime, in Python", "",
             "USAGE:", "   pyrunc [global options] command [command options] [arguments...]",
             "", "COMMANDS:"]
    lines += ["   " + c for c in sorted(COMMANDS)]
    lines.append("\nGLOBAL OPTIONS:")
    for names, kind, _d, h in GLOBAL_FLAGS:
        lines.append("   %-26s %s" % (", ".join(names) + ("" if kind == "bool" else " value"), h))
    return "\n".join(lines) + "\n"


def main(argv=None):
    from pyrunc import log
    from pyrunc.errors import PyruncError, UsageError

    if argv is None:
        argv = sys.argv[1:]
    debug = False
    command = None
    try:
        # global flags come before the command
        split = 0
        while split < len(argv) and argv[split].startswith("-"):
            name = argv[split].partition("=")[0]
            split += 1
            if "=" not in argv[split - 1] and name in ("--root", "--log", "--log-format", "--criu"):
                split += 1
            elif name == "--rootless" and "=" not in argv[split - 1] and split < len(argv) \
                    and argv[split] in ("true", "false", "auto"):
                split += 1
        g, _ = parse("pyrunc", GLOBAL_FLAGS, argv[:split])
        debug = g["debug"]
        log.configure(g["log"], g["log_format"], debug)
        if g["log_format"] not in (None, "text", "json"):
            raise UsageError("invalid log-format: %s" % g["log_format"])
        rest = argv[split:]
        if g["version"] and not rest:
            return _version()
        if not rest or g["help"] or rest[0] == "help":
            if len(rest) >= 2 and rest[0] == "help":
                rest = [rest[1], "--help"]
            else:
                sys.stdout.write(_main_usage())
                return 0 if (g["help"] or rest) else 2
        command = rest[0]
        modname = COMMANDS.get(command)
        if modname is None:
            if "-h" in rest[1:] or "--help" in rest[1:]:
                raise UsageError("No help topic for '%s'" % command)
            raise UsageError("no such command: %s" % command)
        args = rest[1:]
        if command in ("create", "run", "exec") and os.geteuid() == 0 \
                and "--help" not in args and "-h" not in args:
            from pyrunc.linux.cgroups import start_warmup
            start_warmup()      # see there
        mod = __import__("pyrunc.cli." + modname, fromlist=["run"])
        if "--help" in args or "-h" in args:
            cut = args.index("--") if "--" in args else len(args)
            if "--help" in args[:cut] or "-h" in args[:cut]:
                sys.stdout.write(usage(command, mod.SYNOPSIS, mod.DESCRIPTION, mod.FLAGS))
                # podman probes `checkpoint --help`: 0 would mean "supported"
                return 1 if getattr(mod, "UNSUPPORTED", False) else 0
        opts, pos = parse(command, mod.FLAGS, args, getattr(mod, "STOP_AT", False))
        nargs = mod.NARGS
        if nargs is not None:
            lo, hi = nargs if isinstance(nargs, tuple) else (nargs, nargs)
            if len(pos) < lo or (hi is not None and len(pos) > hi):
                if lo == hi:
                    raise UsageError('"%s" requires exactly %d argument(s)' % (command, lo))
                raise UsageError('"%s" requires at least %d argument(s)' % (command, lo))
        return mod.run(Ctx(g, command), opts, pos)
    except PyruncError as e:
        if debug:
            import traceback
            traceback.print_exc()
        msg = str(e)
        log.error("%s: %s" % (command, msg) if command else msg)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except OSError as e:
        if debug:
            import traceback
            traceback.print_exc()
        log.error("%s: %s" % (command or "pyrunc", _oserr(e)))
        return 1
    except Exception as e:
        # a bug, but still one line (the traceback with --debug)
        if debug:
            import traceback
            traceback.print_exc()
        log.error("%s: internal error: %s: %s" % (command or "pyrunc", type(e).__name__, e))
        return 1


def _oserr(e):
    """One line naming the operation (the syscall seam puts it first in
    strerror: "close_range: Invalid argument") and the path."""
    import os
    text = os.strerror(e.errno).lower() if e.errno else str(e)
    if e.filename:
        text = "%s: %s" % (e.filename, text)
    op = (e.strerror or "").partition(": ")[0] if ": " in (e.strerror or "") else ""
    return "%s: %s" % (op, text) if op else text
