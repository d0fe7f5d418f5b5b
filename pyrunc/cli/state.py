SYNOPSIS = "<container-id>"
DESCRIPTION = "Print the state of a container as JSON."
FLAGS = ()
NARGS = 1


def run(ctx, opts, args):
    import sys
    from pyrunc.fastjson import dumps
    from pyrunc.state import Store
    c = Store(ctx.root).load(args[0])
    sys.stdout.write(dumps(c.state_json(), indent="  ") + "\n")
    return 0
