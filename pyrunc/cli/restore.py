SYNOPSIS = "[command options] <container-id>"
DESCRIPTION = ("Restore a container checkpointed with `pyrunc checkpoint` (CRIU) from "
               "--image-path, under this id, from the bundle's config.json and rootfs; "
               "without --detach, wait for it and delete it afterwards.")
FLAGS = (
    (("--image-path",), "str", "image_path", "path to criu image files for restoring (default: ./checkpoint)"),
    (("--work-path",), "str", "work_path", "path for saving work files and logs (default: the image path)"),
    (("--bundle", "-b"), "str", "bundle", "path to the bundle directory (default: cwd)"),
    (("--console-socket",), "str", "console_socket", "AF_UNIX socket that receives the pty master (terminals are not supported)"),
    (("--pid-file",), "str", "pid_file", "file to write the process id to"),
    (("--detach", "-d"), "bool", "detach", "detach from the container's process"),
    (("--tcp-established",), "bool", "tcp_established", "allow open tcp connections"),
    (("--ext-unix-sk",), "bool", "ext_unix_sk", "allow external unix sockets"),
    (("--shell-job",), "bool", "shell_job", "allow shell jobs"),
    (("--file-locks",), "bool", "file_locks", "handle file locks"),
    (("--manage-cgroups-mode",), "str", "manage_cgroups_mode", "cgroups mode: soft (default), full, strict, ignore"),
    (("--no-subreaper",), "bool", "no_subreaper", "accepted, unused"),
    (("--no-pivot",), "bool", "no_pivot", "accepted, unused (CRIU restores the mounts)"),
    (("--empty-ns",), "list", "empty_ns", "accepted: the namespace is left empty as recorded at checkpoint"),
    (("--auto-dedup",), "bool", "auto_dedup", "enable auto deduplication of memory images"),
    (("--lazy-pages",), "bool", "lazy_pages", "use userfaultfd to lazily restore memory pages"),
    (("--lsm-profile",), "str", "lsm_profile", "accepted, unused"),
    (("--lsm-mount-context",), "str", "lsm_mount_context", "accepted, unused"),
)
NARGS = 1


def run(ctx, opts, args):
    from pyrunc.lifecycle.checkpoint import restore
    return restore(ctx, args[0], opts)
