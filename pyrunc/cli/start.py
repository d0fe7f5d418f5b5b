SYNOPSIS = "<container-id>"
DESCRIPTION = "Start the user's process of a created container."
FLAGS = ()
NARGS = 1


def run(ctx, opts, args):
    from pyrunc.api import Runtime
    Runtime.from_ctx(ctx).start(args[0])
    return 0
