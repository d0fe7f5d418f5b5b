SYNOPSIS = "<container-id>"
DESCRIPTION = "Print the state of a container as JSON."
FLAGS = ()
NARGS = 1


def run(ctx, opts, args):
    import sys
    from pyrunc.api import Runtime
    from pyrunc.fastjson import dumps
    sys.stdout.write(dumps(Runtime.from_ctx(ctx).state(args[0]), indent="  ") + "\n")
    return 0
