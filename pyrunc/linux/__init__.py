"""Linux layers, one module per concern of config.json:

  sys.py         the syscall seam (real shim, or a recording fake in tests)
  namespaces.py  linux.namespaces, uid/gid mappings, timeOffsets
  paths.py       resolving container paths inside the rootfs
  mounts.py      mounts[] and their options
  rootfs.py      root, pivot_root, rootfsPropagation, masked/readonly paths
  devices.py     default devices, linux.devices, /dev symlinks
  procfs.py      a private, verified procfs handle for every /proc write
  console.py     process.terminal and --console-socket
  process.py     process attributes and the plan for the init helper
  capabilities.py, rlimits.py, seccomp.py   process security
  cgroups/       linux.resources behind one driver interface
"""


def in_userns():
    """Whether we run inside a user namespace (not the initial one)."""
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False
