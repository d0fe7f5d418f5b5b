SYNOPSIS = "<container-id>"
DESCRIPTION = "Resume all processes of a paused container; its state becomes \"running\"."
FLAGS = ()
NARGS = 1


def run(ctx, opts, args):
    from pyrunc.api import Runtime
    Runtime.from_ctx(ctx).resume(args[0])
    return 0
