SYNOPSIS = "[command options] <container-id>"
DESCRIPTION = "Checkpoint/restore is not supported by pyrunc (no CRIU integration)."
FLAGS = (
    (("--image-path",), "str", "image_path", "unsupported"),
    (("--work-path",), "str", "work_path", "unsupported"),
    (("--bundle", "-b"), "str", "bundle", "unsupported"),
    (("--pid-file",), "str", "pid_file", "unsupported"),
    (("--detach", "-d"), "bool", "detach", "unsupported"),
    (("--no-pivot",), "bool", "no_pivot", "unsupported"),
    (("--lsm-mount-context",), "str", "lsm_mount_context", "unsupported"),
)
NARGS = None


def run(ctx, opts, args):
    from pyrunc.errors import PyruncError
    raise PyruncError("checkpoint/restore is not supported")
UNSUPPORTED = True
