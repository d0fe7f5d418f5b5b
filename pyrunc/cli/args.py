"""A tiny runc-compatible argument parser.

argparse (with gettext and re) costs several milliseconds to import, and
every container costs several pyrunc invocations, so commands declare their
flags as tuples and this module parses them:

    FLAGS = (
        (("--bundle", "-b"), "str", "bundle", "path to the bundle directory"),
        (("--detach", "-d"), "bool", "detach", "detach from the container"),
        (("--env", "-e"), "list", "env", "set environment variables"),
    )

Accepted forms: --flag value, --flag=value, -f value, -fvalue is not
accepted (runc/urfave does not either); bool flags take an optional
=true/=false; "--" ends the flags. Flags may appear after positionals
(urfave/cli stops at the first positional; runc commands only take the id
and, for exec, the command after it, so we stop at the first positional
for exec and allow interleaving for the rest).
"""

from pyrunc.errors import UsageError

_TRUE = ("true", "1", "yes", "t")
_FALSE = ("false", "0", "no", "f")


def parse(cmd, flags, argv, stop_at_positional=False):
    index = {}
    opts = {}
    for names, kind, dest, _help in flags:
        for n in names:
            index[n] = (kind, dest)
        opts[dest] = [] if kind == "list" else (False if kind == "bool" else None)
    pos = []
    i = 0
    n = len(argv)
    while i < n:
        a = argv[i]
        i += 1
        if a == "--":
            pos.extend(argv[i:])
            break
        if len(a) > 1 and a[0] == "-" and not pos_only(a):
            name, eq, val = a.partition("=")
            if name not in index:
                raise UsageError("%s: flag provided but not defined: %s" % (cmd, name))
            kind, dest = index[name]
            if kind == "bool":
                if eq:
                    v = val.lower()
                    if v in _TRUE:
                        opts[dest] = True
                    elif v in _FALSE:
                        opts[dest] = False
                    else:
                        raise UsageError("%s: invalid boolean value %r for %s" % (cmd, val, name))
                else:
                    opts[dest] = True
                continue
            if not eq:
                if i >= n:
                    raise UsageError("%s: flag needs an argument: %s" % (cmd, name))
                val = argv[i]
                i += 1
            if kind == "int":
                try:
                    val = int(val)
                except ValueError:
                    raise UsageError("%s: invalid value %r for flag %s: not an integer"
                                     % (cmd, val, name)) from None
            if kind == "list":
                opts[dest].append(val)
            else:
                opts[dest] = val
            continue
        pos.append(a)
        if stop_at_positional and len(pos) == stop_at_positional:
            pos.extend(argv[i:])
            break
    return opts, pos


def pos_only(a):
    # a negative number (e.g. a signal "-9"?) is not a flag for us
    return a[1:].isdigit()


def usage(cmd, synopsis, description, flags):
    """Help in urfave/cli's layout, which runc's users (and its tests) know."""
    first = description.split(". ")[0].rstrip(".")
    lines = ["NAME:", "   pyrunc %s - %s" % (cmd, first), "",
             "USAGE:", "   pyrunc %s %s" % (cmd, synopsis), "",
             "DESCRIPTION:", "   " + description, "", "OPTIONS:"]
    for names, kind, _dest, help_ in flags:
        arg = "" if kind == "bool" else " value"
        lines.append("   %-32s %s" % (", ".join(names) + arg, help_))
    lines.append("   %-32s %s" % ("--help, -h", "show help"))
    return "\n".join(lines) + "\n"
