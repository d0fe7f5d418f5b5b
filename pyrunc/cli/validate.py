SYNOPSIS = "[command options]"
DESCRIPTION = ("Check a bundle without running it: config.json valid against "
               "runtime-spec v1.3.0 and the rootfs present.")
FLAGS = (
    (("--bundle", "-b"), "str", "bundle", "path to the bundle directory (default: cwd)"),
)
NARGS = 0


def run(ctx, opts, args):
    import sys
    from pyrunc.config import load_bundle
    from pyrunc.lifecycle.create import check_config
    _raw, config, rootfs = load_bundle(opts["bundle"] or ".")
    check_config(config).close()
    sys.stdout.write("bundle is valid: config.json (ociVersion %s), rootfs %s\n"
                     % (config.oci_version, rootfs))
    return 0
