"""linux.seccomp: the OCI seccomp profile -> a classic BPF program.

compile() runs in pyrunc's parent process, before any fork: libseccomp
(through the cffi module pyrunc._seccomp) builds the filter and exports it
as raw `struct sock_filter` bytes; the init helper (csrc/init.c) loads
those bytes with seccomp(SECCOMP_SET_MODE_FILTER, flags, ...) as its last
step before execve (or before dropping capabilities when noNewPrivileges
is false). Nothing is loaded here, so libseccomp's load-time attributes
(TSYNC, LOG, SSB, NNP) do not matter: the profile's flags are returned as
the kernel's SECCOMP_FILTER_FLAG_* bits instead.

Semantics, as runc has them:
  * a syscall name that libseccomp does not know for this system is
    skipped (the rule simply does not exist), not an error;
  * a rule whose action equals the default action is dropped (it would
    have no effect; libseccomp refuses it);
  * errnoRet defaults to EPERM for SCMP_ACT_ERRNO and SCMP_ACT_TRACE and
    is an error with any other action;
  * the args of one rule are ANDed; libseccomp cannot AND two comparisons
    of the same argument, so a rule with such conditions becomes one rule
    per condition (ORed), as runc does;
  * the native architecture is always in the filter.
SCMP_ACT_NOTIFY: the filter is loaded with SECCOMP_FILTER_FLAG_NEW_LISTENER
and the init helper sends the listener fd, with the container process
state (runtime.md), to linux.seccomp.listenerPath (connected by pyrunc
before the fork). NOTIFY is refused as the default action and for the
syscalls the helper itself makes after loading the filter: they would wait
on a listener that has not got its fd yet.

This module is imported only when a config has a seccomp section; keep its
import cheap (pyrunc._seccomp is loaded on first use).
"""
from pyrunc.errors import ConfigError

WHERE = "config.json: /linux/seccomp"

EPERM = 1
MAX_INSNS = 4096            # BPF_MAXINSNS: the kernel's limit

# action name -> (SECCOMP_RET_* value, takes an errno)
ACTIONS = {
    "SCMP_ACT_KILL": (0x00000000, False),           # = KILL_THREAD
    "SCMP_ACT_KILL_THREAD": (0x00000000, False),
    "SCMP_ACT_KILL_PROCESS": (0x80000000, False),
    "SCMP_ACT_TRAP": (0x00030000, False),
    "SCMP_ACT_ERRNO": (0x00050000, True),
    "SCMP_ACT_TRACE": (0x7ff00000, True),
    "SCMP_ACT_LOG": (0x7ffc0000, False),
    "SCMP_ACT_ALLOW": (0x7fff0000, False),
    "SCMP_ACT_NOTIFY": (0x7fc00000, False),
}
UNSUPPORTED_ACTIONS = set()
NOTIFY = 0x7fc00000
# what csrc/init.c calls between loading a filter and handing the notify fd
# to the agent (sendmsg), and on its error path (write): a notification
# there would wait for an agent that cannot answer yet. Every other syscall
# may be notified (runc refuses write too).
HELPER_SYSCALLS = frozenset(("sendmsg", "write"))

# operator name -> enum scmp_compare
OPERATORS = {
    "SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7,
}

# the runtime-spec's architecture names; libseccomp knows them lower case
ARCHS = (
    "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
)

# flag name -> SECCOMP_FILTER_FLAG_* bit
FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1 << 0,
    "SECCOMP_FILTER_FLAG_LOG": 1 << 1,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 1 << 2,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 1 << 5,
}
FLAG_NEW_LISTENER = 1 << 3
FLAG_WAIT_KILLABLE_RECV = 1 << 5

SECCOMP_SET_MODE_FILTER = 1
SECCOMP_GET_ACTION_AVAIL = 2
EFAULT = 14


def _lib():
    try:
        from pyrunc._seccomp import ffi, lib
    except ImportError as e:
        raise ConfigError("seccomp: pyrunc was built without libseccomp support (%s)" % e) from None
    return ffi, lib


def _strerror(rc):
    import os
    return os.strerror(-rc).lower() if rc < 0 else "error %d" % rc


def _action(name, errno_ret, where_action, where_errno):
    """(SECCOMP_RET_* value with its data) or ConfigError."""
    a = ACTIONS.get(name)
    if a is None:
        raise ConfigError('%s: unknown action "%s"' % (where_action, name))
    if name in UNSUPPORTED_ACTIONS:
        raise ConfigError("%s: SCMP_ACT_NOTIFY is not supported yet" % where_action)
    value, takes_errno = a
    if not takes_errno:
        if errno_ret is not None:
            raise ConfigError("%s: action %s does not take an errno" % (where_errno, name))
        return value
    if errno_ret is None:
        errno_ret = EPERM
    if not 0 <= errno_ret <= 0xFFFF:
        raise ConfigError("%s: %d is out of range 0..65535" % (where_errno, errno_ret))
    return value | errno_ret


def _probe_flag(lib, ffi, bits):
    """Does the kernel take these SECCOMP_FILTER_FLAG_* bits? With a NULL
    program it fails with EFAULT once the flags have been accepted."""
    rc = lib.pyrunc_seccomp(SECCOMP_SET_MODE_FILTER, bits, ffi.NULL)
    return rc < 0 and ffi.errno == EFAULT


def _flag_supported(lib, ffi, bit):
    if bit == FLAG_WAIT_KILLABLE_RECV:      # only valid with a listener
        bit |= FLAG_NEW_LISTENER
    return _probe_flag(lib, ffi, bit)


def _action_available(lib, ffi, value):
    rc = lib.pyrunc_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, ffi.new("uint32_t *", value & 0xFFFF0000))
    return rc == 0


def _flags(seccomp, lib, ffi):
    if seccomp.flags is None:
        # no "flags" at all: SPEC_ALLOW where the kernel has it, as runc
        # (speculative store bypass mitigation is the kernel's business;
        # an explicit empty list means none)
        bit = FLAGS["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
        return bit if _flag_supported(lib, ffi, bit) else 0
    bits = 0
    for i, name in enumerate(seccomp.flags):
        bit = FLAGS.get(name)
        if bit is None:
            raise ConfigError('%s/flags/%d: unknown flag "%s"' % (WHERE, i, name))
        if not _flag_supported(lib, ffi, bit):
            raise ConfigError("%s/flags/%d: %s is not supported by this kernel" % (WHERE, i, name))
        bits |= bit
    # WAIT_KILLABLE_RECV only changes how a notify listener waits: the
    # kernel refuses it without one (compile() adds NEW_LISTENER if needed)
    return bits


def _arch_token(lib, name, where):
    if name == "SCMP_ARCH_NATIVE":
        return lib.seccomp_arch_native()
    if name not in ARCHS:
        raise ConfigError('%s: unknown architecture "%s"' % (where, name))
    tok = lib.seccomp_arch_resolve_name(name[len("SCMP_ARCH_"):].lower().encode())
    if not tok:
        v = lib.seccomp_version()
        raise ConfigError("%s: architecture %s is not supported by libseccomp %d.%d.%d"
                          % (where, name, v.major, v.minor, v.micro))
    return tok


def _conditions(args, where):
    """[(arg, op, datum_a, datum_b)] for one rule."""
    out = []
    for j, a in enumerate(args or ()):
        w = "%s/args/%d" % (where, j)
        op = OPERATORS.get(a.op)
        if op is None:
            raise ConfigError('%s/op: unknown operator "%s"' % (w, a.op))
        if not 0 <= a.index <= 5:
            raise ConfigError("%s/index: %d is out of range 0..5" % (w, a.index))
        two = a.value_two or 0
        for key, v in (("value", a.value), ("valueTwo", two)):
            if not 0 <= v < 1 << 64:
                raise ConfigError("%s/%s: %d is not a 64-bit unsigned value" % (w, key, v))
        out.append((a.index, op, a.value, two))
    return out


def _check_actions(lib, ffi, values, seen):
    for name, value in values:
        if value in seen:
            continue
        seen.add(value)
        if not _action_available(lib, ffi, value):
            raise ConfigError("%s: action %s is not supported by this kernel" % (WHERE, name))


def compile(seccomp, cache=False):
    """Seccomp model -> (BPF program bytes, SECCOMP_FILTER_FLAG_* bits).
    cache: look the program up in, and add it to, pyrunc's cache of
    compiled artefacts (pyrunc/cache.py), keyed by the whole profile."""
    ffi, lib = _lib()
    default = _action(seccomp.default_action, seccomp.default_errno_ret,
                      WHERE + "/defaultAction", WHERE + "/defaultErrnoRet")
    if default == NOTIFY:
        raise ConfigError("%s/defaultAction: SCMP_ACT_NOTIFY cannot be the default action"
                          % WHERE)
    notify = False
    for i, sc in enumerate(seccomp.syscalls or ()):
        if sc.action == "SCMP_ACT_NOTIFY":
            notify = True
            bad = HELPER_SYSCALLS.intersection(sc.names)
            if bad:
                raise ConfigError("%s/syscalls/%d: SCMP_ACT_NOTIFY cannot be used for the %s "
                                  "syscall (the runtime needs it before the agent has the "
                                  "notify fd)" % (WHERE, i, ", ".join(sorted(bad))))
    if notify and not seccomp.listener_path:
        raise ConfigError("%s/listenerPath: SCMP_ACT_NOTIFY needs a listenerPath" % WHERE)
    if cache:
        prog, flags = _compile_cached(seccomp, default, ffi, lib)
    else:
        prog, flags = _compile(seccomp, default, ffi, lib)
    # TSYNC syncs the filter to the loader's other threads: the init helper
    # has none, so it is accepted and dropped (runc ignores it too)
    flags &= ~FLAGS["SECCOMP_FILTER_FLAG_TSYNC"]
    if notify:
        flags |= FLAG_NEW_LISTENER
    else:
        flags &= ~FLAG_WAIT_KILLABLE_RECV
    return prog, flags


def _compile_cached(seccomp, default, ffi, lib):
    """_compile, through the cache. The key is everything the program
    depends on: the profile (its repr: every field, in order), this module
    (a new pyrunc), libseccomp's version and the kernel (the actions and
    flags it has)."""
    import os
    import struct
    from pyrunc import cache
    v = lib.seccomp_version()
    u = os.uname()
    here = os.stat(__file__)
    key = ("seccomp %d %d\nlibseccomp %d.%d.%d\nkernel %s %s %s\n%r" % (
        here.st_size, here.st_mtime_ns, v.major, v.minor, v.micro,
        u.release, u.version, u.machine, seccomp)).encode()
    hit = cache.get("seccomp", key)
    if hit is not None and len(hit) > 4 and (len(hit) - 4) % 8 == 0 \
            and (len(hit) - 4) // 8 <= MAX_INSNS:
        return hit[4:], struct.unpack("=I", hit[:4])[0]
    prog, flags = _compile(seccomp, default, ffi, lib)
    cache.put("seccomp", key, struct.pack("=I", flags) + prog)
    return prog, flags


def _compile(seccomp, default, ffi, lib):
    checked = set()
    _check_actions(lib, ffi, [(seccomp.default_action, default)], checked)
    flags = _flags(seccomp, lib, ffi)
    ctx = lib.seccomp_init(default)
    if ctx == ffi.NULL:
        raise ConfigError("%s/defaultAction: libseccomp refused action %s"
                          % (WHERE, seccomp.default_action))
    # libseccomp's default (linear) layout is kept: the binary tree of
    # SCMP_FLTATR_CTL_OPTIMIZE=2 costs 50% more to build, and since Linux
    # 5.11 the kernel's action cache skips the program for the syscalls a
    # filter always allows
    try:
        for i, name in enumerate(seccomp.architectures or ()):
            tok = _arch_token(lib, name, "%s/architectures/%d" % (WHERE, i))
            rc = lib.seccomp_arch_add(ctx, tok)
            if rc < 0 and rc != -17:        # EEXIST: the native one, or a repeat
                raise ConfigError("%s/architectures/%d: %s: %s"
                                  % (WHERE, i, name, _strerror(rc)))
        err = lib.__NR_SCMP_ERROR
        for i, sc in enumerate(seccomp.syscalls or ()):
            where = "%s/syscalls/%d" % (WHERE, i)
            act = _action(sc.action, sc.errno_ret, where + "/action", where + "/errnoRet")
            conds = _conditions(sc.args, where)
            if act == default:
                continue
            _check_actions(lib, ffi, [(sc.action, act)], checked)
            if len({c[0] for c in conds}) == len(conds):
                groups = [conds]
            else:
                groups = [[c] for c in conds]
            arrays = [(len(g), ffi.new("struct scmp_arg_cmp[]", g) if g else ffi.NULL)
                      for g in groups]
            for name in sc.names:
                try:
                    nr = lib.seccomp_syscall_resolve_name(name.encode())
                except UnicodeEncodeError:
                    continue
                if nr == err:
                    continue                # unknown here: skipped, as runc does
                for n, arr in arrays:
                    rc = lib.seccomp_rule_add_array(ctx, act, nr, n, arr)
                    if rc < 0:
                        raise ConfigError('%s: syscall "%s": %s' % (where, name, _strerror(rc)))
        prog = _enosys_stub(seccomp, lib) + _export(ctx, lib)
        if len(prog) // 8 > MAX_INSNS:
            raise ConfigError("%s: the filter has %d instructions; the kernel takes at most %d"
                              % (WHERE, len(prog) // 8, MAX_INSNS))
        return prog, flags
    finally:
        lib.seccomp_release(ctx)


# -- -ENOSYS for syscalls newer than the profile --------------------------------
# A profile denies what it does not list; for a syscall newer than every one
# it names, the author cannot have meant that: libc then sees EPERM where it
# expects ENOSYS and does not fall back (clone3 -> clone, faccessat2 ->
# faccessat...). As runc does, such syscalls get -ENOSYS: a stub in front
# of libseccomp's program compares, per architecture, the number with the
# highest one the profile names. Not for a default that allows (ALLOW, LOG,
# TRACE): nothing is denied there. x32 calls (the 0x40000000 bit on x86_64)
# and architectures whose libseccomp token is not their audit value are left
# to the main filter.
_AUDIT_ARCHS = {"SCMP_ARCH_X86_64": 0xC000003E, "SCMP_ARCH_X86": 0x40000003,
                "SCMP_ARCH_AARCH64": 0xC00000B7, "SCMP_ARCH_ARM": 0x40000028,
                "SCMP_ARCH_RISCV64": 0xC00000F3, "SCMP_ARCH_PPC64LE": 0xC0000015,
                "SCMP_ARCH_PPC64": 0x80000015, "SCMP_ARCH_LOONGARCH64": 0xC0000102}
_X32_BIT = 0x40000000
RET_ENOSYS = 0x00050000 | 38


def _insn(code, k=0, jt=0, jf=0):
    import struct
    return struct.pack("=HBBI", code, jt, jf, k)


def _enosys_stub(seccomp, lib):
    if seccomp.default_action in ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"):
        return b""
    names = {n for sc in seccomp.syscalls or () for n in sc.names}
    native = lib.seccomp_arch_native()
    archs = {a for a in seccomp.architectures or () if a in _AUDIT_ARCHS}
    archs |= {a for a, v in _AUDIT_ARCHS.items() if v == native}
    sections = []
    for a in sorted(archs):
        audit = _AUDIT_ARCHS[a]
        nrs = []
        for n in names:
            try:
                nr = lib.seccomp_syscall_resolve_name_arch(audit, n.encode())
            except UnicodeEncodeError:
                continue
            if nr >= 0:             # negative: unknown, or not on this arch
                nrs.append(nr)
        if nrs:
            sections.append((audit, max(nrs)))
    if not sections:
        return b""
    # [ld arch] {jeq arch; ld nr; (jset x32); jgt max}* [ja main] [ret ENOSYS] main...
    body = []
    sizes = [4 if audit == 0xC000003E else 3 for audit, _ in sections]
    total = 1 + sum(sizes)              # index of "ja main"
    enosys = total + 1
    main = total + 2
    i = 1
    for (audit, last), size in zip(sections, sizes):
        end = i + size                  # the next section
        body.append(_insn(0x15, audit, 0, end - (i + 1)))           # jeq arch
        body.append(_insn(0x20, 0))                                  # ld [0]: nr
        j = i + 2
        if audit == 0xC000003E:
            body.append(_insn(0x45, _X32_BIT, main - (j + 1), 0))    # jset x32
            j += 1
        body.append(_insn(0x25, last, enosys - (j + 1), main - (j + 1)))   # jgt last
        i = end
    return (_insn(0x20, 4) + b"".join(body)          # ld [4]: arch
            + _insn(0x05, 1)                         # ja main
            + _insn(0x06, RET_ENOSYS))               # ret ERRNO(ENOSYS)


def _export(ctx, lib):
    import os
    fd = os.memfd_create("pyrunc-seccomp", os.MFD_CLOEXEC)
    try:
        rc = lib.seccomp_export_bpf(ctx, fd)
        if rc < 0:
            raise ConfigError("%s: cannot generate the filter: %s" % (WHERE, _strerror(rc)))
        size = os.lseek(fd, 0, os.SEEK_END)
        prog = os.pread(fd, size, 0)
    finally:
        os.close(fd)
    if len(prog) != size or size % 8:
        raise ConfigError("%s: libseccomp exported a malformed program" % WHERE)
    if size // 8 > MAX_INSNS:
        raise ConfigError("%s: the filter has %d instructions; the kernel takes at most %d"
                          % (WHERE, size // 8, MAX_INSNS))
    return prog


def features():
    """The runtime-spec features "seccomp" object: what works here."""
    try:
        ffi, lib = _lib()
    except ConfigError:
        return {"enabled": False}
    actions = [n for n, (v, _e) in ACTIONS.items()
               if n not in UNSUPPORTED_ACTIONS and _action_available(lib, ffi, v)]
    archs = [a for a in ARCHS
             if lib.seccomp_arch_resolve_name(a[len("SCMP_ARCH_"):].lower().encode())]
    supported = [n for n, b in FLAGS.items() if _flag_supported(lib, ffi, b)]
    return {                # sorted, as runc lists them
        "enabled": True,
        "actions": sorted(actions),
        "operators": sorted(OPERATORS),
        "archs": sorted(archs),
        "knownFlags": sorted(FLAGS),
        "supportedFlags": sorted(supported),
    }


def connect_listener(path):
    """In pyrunc, before the fork: the AF_UNIX stream socket the notify fd
    goes to (one connection per container process, closed after sending)."""
    from pyrunc.linux.sys import connect_unix
    return connect_unix(path, "failed to connect with seccomp agent: seccomp listenerPath")
