"""process.capabilities: names to bit masks.

Rule (documented in the README): an unknown capability name is an error
(runtime-tools' rule, crun 1.29; the spec asks for a warning, but a typo
silently granting less, or more, is worse). A known capability that this
host cannot grant (not in pyrunc's own permitted set, e.g. CAP_SYS_RESOURCE
here) is dropped with a warning, as the spec says.
"""

NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
BIT = {n: i for i, n in enumerate(NAMES)}
SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")


def mask(names, field, unknown=None):
    """The bit mask of names; a name this build does not know (a newer
    kernel's, or a typo) is left out and collected in unknown: runtime-spec
    says a runtime SHOULD NOT fail on capabilities it cannot grant, and runc
    warns and goes on."""
    m = 0
    for n in names or ():
        b = BIT.get(n.upper() if n.upper().startswith("CAP_") else "CAP_" + n.upper())
        if b is None:
            if unknown is not None and n not in unknown:
                unknown.append(n)
            continue
        m |= 1 << b
    return m


def host_permitted():
    """pyrunc's own permitted set: what it can grant."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapPrm:"):
                return int(line.split()[1], 16)
    return 0


def masks(caps, warn=None, all_granted=False):
    """(bounding, effective, inheritable, permitted, ambient) bit masks.
    all_granted: the process starts in a new user namespace, where it holds
    every capability whatever we hold outside."""
    unknown = []
    out = [mask(getattr(caps, s), s, unknown) for s in SETS]
    if unknown and warn:
        warn("ignoring unknown or unavailable capabilities: %s" % ", ".join(unknown))
    have = ~0 if all_granted else host_permitted()
    missing = 0
    for i, m in enumerate(out):
        missing |= m & ~have
        out[i] = m & have
    if missing and warn:
        warn("capabilities not granted (the host does not have them): %s" % ", ".join(
            NAMES[b] if b < len(NAMES) else str(b) for b in range(64) if missing >> b & 1))
    b, e, i, p, a = out
    # ambient must stay within permitted and inheritable (kernel rule)
    if a & ~(p & i) and warn:
        # runc's words, one line per capability (prctl's EPERM)
        for bit in range(64):
            if (a & ~(p & i)) >> bit & 1:
                warn("can't raise ambient capability %s: operation not permitted (not in "
                     "both permitted and inheritable)" % (NAMES[bit] if bit < len(NAMES)
                                                          else str(bit)))
    a &= p & i
    return b, e, i, p, a
