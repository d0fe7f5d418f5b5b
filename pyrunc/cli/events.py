SYNOPSIS = "[command options] <container-id>"
DESCRIPTION = """Display container events as JSON lines: with --stats one statistics
object {"type":"stats","id":ID,"data":{...}}; else a stats object every
--interval and {"type":"oom","id":ID} on each out-of-memory event, until
the container stops."""
FLAGS = (
    (("--interval",), "str", "interval", "stats collection interval (default: 5s)"),
    (("--stats",), "bool", "stats", "display the container's stats once, then exit"),
)
NARGS = 1


def run(ctx, opts, args):
    from pyrunc.lifecycle.events import events, interval_arg
    interval = interval_arg(opts["interval"])
    events(ctx, args[0], opts["stats"], interval)
    return 0
