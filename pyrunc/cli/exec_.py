SYNOPSIS = "[command options] <container-id> <command> [command options]  ||  -p process.json <container-id>"
DESCRIPTION = "Run a new process inside a running container."
FLAGS = (
    (("--process", "-p"), "str", "process", "path to a process.json (runtime-spec Process)"),
    (("--detach", "-d"), "bool", "detach", "detach from the process"),
    (("--pid-file",), "str", "pid_file", "file to write the process id to"),
    (("--tty", "-t"), "bool", "tty", "allocate a pseudo-TTY"),
    (("--console-socket",), "str", "console_socket", "AF_UNIX socket that receives the pty master"),
    (("--preserve-fds",), "int", "preserve_fds", "pass N extra fds to the process"),
    (("--cwd",), "str", "cwd", "current working directory in the container"),
    (("--env", "-e"), "list", "env", "set an environment variable (NAME=value)"),
    (("--user", "-u"), "str", "user", "uid[:gid]"),
    (("--additional-gids", "-g"), "list", "additional_gids", "additional gids"),
    (("--cap", "-c"), "list", "cap", "add a capability (never inheritable)"),
    (("--no-new-privs",), "bool", "no_new_privs", "set no_new_privs"),
    (("--apparmor",), "str", "apparmor", "apparmor profile (no AppArmor here: refused)"),
    (("--process-label",), "str", "process_label", "SELinux label (no SELinux here: refused)"),
    (("--cgroup",), "list", "cgroup",
     "join a sub-cgroup of the container's: PATH, or CTL[,CTL]:PATH (cgroup v1); repeatable"),
    (("--ignore-paused",), "bool", "ignore_paused",
     "exec into a paused container (the process starts frozen until resume)"),
    (("--pidfd-socket",), "str", "pidfd_socket",
     "AF_UNIX socket that receives a pidfd of the container's process"),
)
NARGS = (1, None)
STOP_AT = 1   # the command after the id keeps its own flags


def run(ctx, opts, args):
    from pyrunc.api import Runtime
    from pyrunc.errors import PyruncError, UsageError
    try:
        return Runtime.from_ctx(ctx).exec(args[0], args[1:], **opts)
    except UsageError:
        raise
    except PyruncError as e:
        # runc: every failure of exec itself is "exec failed: ..." and exit
        # status 255, so callers can tell it from the process's own status
        msg = str(e)
        err = PyruncError(msg if msg.startswith("exec failed") else "exec failed: " + msg)
        err.exit_code = 255
        raise err from None
