"""Device-cgroup rules: v1 ``devices.allow``/``devices.deny`` writes and the
cgroup v2 eBPF device program (BPF_PROG_TYPE_CGROUP_DEVICE).

Rule semantics (both versions): start from "deny everything", then the rules
in order, the last matching rule wins; an allow rule matches a request only
if it grants every requested access bit, a deny rule if it takes any of
them.  The runtime's default rules (``DEFAULT_RULES``) go *after* the
config's rules (conformance notes: the config rules must come first in
``devices.list``).

The eBPF program is built here as raw instruction bytes; it is loaded with
``bpf(BPF_PROG_LOAD)`` and attached with ``bpf(BPF_PROG_ATTACH,
BPF_F_ALLOW_MULTI)`` to the cgroup2 directory fd, after which programs that
were attached before are detached.  The syscall goes through the cffi shim
``pyrunc._shim`` (``lib.pyrunc_bpf``), imported lazily; tests may pass any
object with the same small ``backend`` interface.
"""

import os
import struct


class _Rule:
    __slots__ = ("allow", "type", "major", "minor", "access")

    def __init__(self, allow, type=None, major=None, minor=None, access=None):
        self.allow = allow
        self.type = type
        self.major = major
        self.minor = minor
        self.access = access


# runc's default allow list (mknod of anything, the standard character
# devices and the pty devices).
DEFAULT_RULES = (
    _Rule(True, "c", None, None, "m"),
    _Rule(True, "b", None, None, "m"),
    _Rule(True, "c", 1, 3, "rwm"),     # /dev/null
    _Rule(True, "c", 1, 5, "rwm"),     # /dev/zero
    _Rule(True, "c", 1, 7, "rwm"),     # /dev/full
    _Rule(True, "c", 1, 8, "rwm"),     # /dev/random
    _Rule(True, "c", 1, 9, "rwm"),     # /dev/urandom
    _Rule(True, "c", 5, 0, "rwm"),     # /dev/tty
    _Rule(True, "c", 5, 2, "rwm"),     # /dev/ptmx
    _Rule(True, "c", 136, None, "rwm"),  # /dev/pts/*
)


def _norm(rule):
    """(allow, type, major, minor, access) with wildcards as None/'a'."""
    if isinstance(rule, dict):
        g = rule.get
    else:
        def g(k):
            return getattr(rule, k, None)
    t = g("type") or "a"
    if t not in ("a", "c", "b"):
        from pyrunc.linux.cgroups import CgroupError
        raise CgroupError("invalid device rule type %r" % t)
    acc = g("access") or "rwm"
    # runtime-spec: "a composition of r, w and m"; its schema takes any
    # string, and runc ignores other letters ("rwa" is "rw")
    acc = "".join(c for c in "rwm" if c in acc)
    major, minor = g("major"), g("minor")
    if major is not None and major < 0:
        major = None
    if minor is not None and minor < 0:
        minor = None
    return bool(g("allow")), t, major, minor, acc


def rule_line(rule):
    """'c 1:3 rwm' as written to devices.allow/deny."""
    _allow, t, major, minor, acc = _norm(rule)
    if t == "a":
        return "a *:* %s" % acc
    return "%s %s:%s %s" % (t, "*" if major is None else major,
                            "*" if minor is None else minor, acc)


def describe(rules):
    """'allow c 1:3 rwm' for each rule that grants or takes something, in
    order (the last matching rule wins; no match denies)."""
    return ["%s %s" % ("allow" if _norm(r)[0] else "deny", rule_line(r))
            for r in rules or () if _norm(r)[4]]


def v1_writes(rules, default_devices=True):
    """[(file, line)] to write, in order, to configure a v1 devices cgroup."""
    out = [("devices.deny", "a")]
    for r in list(rules or ()) + (list(DEFAULT_RULES) if default_devices else []):
        allow, acc = _norm(r)[0], _norm(r)[4]
        if not acc:
            continue        # grants or takes nothing
        out.append(("devices.allow" if allow else "devices.deny", rule_line(r)))
    return out


# --- eBPF ---------------------------------------------------------------

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2

# struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
# access_type = (access << 16) | type
DEV_BLOCK, DEV_CHAR = 1, 2
ACC_MKNOD, ACC_READ, ACC_WRITE = 1, 2, 4

_LDXW = 0x61      # BPF_LDX | BPF_MEM | BPF_W
_MOVX = 0xbf      # BPF_ALU64 | BPF_MOV | BPF_X
_MOVK = 0xb7      # BPF_ALU64 | BPF_MOV | BPF_K
_ANDK = 0x57      # BPF_ALU64 | BPF_AND | BPF_K
_RSHK = 0x77      # BPF_ALU64 | BPF_RSH | BPF_K
_JNEK = 0x55      # BPF_JMP | BPF_JNE | BPF_K
_JEQK = 0x15      # BPF_JMP | BPF_JEQ | BPF_K
_EXIT = 0x95      # BPF_JMP | BPF_EXIT


def insn(code, dst=0, src=0, off=0, imm=0):
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def _acc_bits(acc):
    return ((ACC_READ if "r" in acc else 0) | (ACC_WRITE if "w" in acc else 0)
            | (ACC_MKNOD if "m" in acc else 0))


def build_program(rules):
    """eBPF instructions (bytes) for the given ordered rule list.

    Registers: r2 = type, r3 = requested access, r4 = major, r5 = minor.
    Rules are tested last to first; the first hit decides; no hit denies.
    """
    prog = [
        insn(_LDXW, 2, 1, 0),        # r2 = ctx->access_type
        insn(_MOVX, 3, 2),           # r3 = r2
        insn(_ANDK, 2, imm=0xffff),  # r2 = type
        insn(_RSHK, 3, imm=16),      # r3 = access
        insn(_LDXW, 4, 1, 4),        # r4 = ctx->major
        insn(_LDXW, 5, 1, 8),        # r5 = ctx->minor
    ]
    for r in reversed([_norm(x) for x in rules]):
        allow, t, major, minor, acc = r
        if not acc:
            continue
        bits = _acc_bits(acc)
        checks = []
        if t != "a":
            checks.append((2, DEV_CHAR if t == "c" else DEV_BLOCK))
        if major is not None:
            checks.append((4, major))
        if minor is not None:
            checks.append((5, minor))
        if allow:
            tail = [insn(_MOVX, 6, 3),                    # r6 = access
                    insn(_ANDK, 6, imm=(~bits) & 7),     # r6 &= ~granted
                    None,                                  # if r6 != 0 goto next
                    insn(_MOVK, 0, imm=1), insn(_EXIT)]
            jcode = _JNEK
        else:
            tail = [insn(_MOVX, 6, 3),
                    insn(_ANDK, 6, imm=bits),              # r6 &= denied
                    None,                                  # if r6 == 0 goto next
                    insn(_MOVK, 0, imm=0), insn(_EXIT)]
            jcode = _JEQK
        n = len(checks) + len(tail)
        block = []
        for i, (reg, val) in enumerate(checks):
            block.append(insn(_JNEK, reg, off=n - i - 1, imm=val))
        pos = len(checks) + 2
        tail[2] = insn(jcode, 6, off=n - pos - 1, imm=0)
        block.extend(tail)
        prog.extend(block)
    prog.append(insn(_MOVK, 0, imm=0))
    prog.append(insn(_EXIT))
    return b"".join(prog)


def emulate(program, dev_type, major, minor, access):
    """Run a program built by ``build_program`` (only the opcodes it uses):
    1 = allow, 0 = deny.  For tests; ``dev_type`` is 'c' or 'b', ``access``
    a string of r/w/m."""
    regs = [0] * 11
    ctx = ((_acc_bits(access) << 16) | (DEV_CHAR if dev_type == "c" else DEV_BLOCK),
           major, minor)
    insns = [struct.unpack("<BBhi", program[i:i + 8]) for i in range(0, len(program), 8)]
    pc = 0
    while True:
        code, regs_b, off, imm = insns[pc]
        dst, src = regs_b & 0xf, regs_b >> 4
        pc += 1
        if code == _LDXW:
            regs[dst] = ctx[off // 4]
        elif code == _MOVX:
            regs[dst] = regs[src]
        elif code == _MOVK:
            regs[dst] = imm
        elif code == _ANDK:
            regs[dst] &= imm
        elif code == _RSHK:
            regs[dst] >>= imm
        elif code == _JNEK:
            if regs[dst] != imm:
                pc += off
        elif code == _JEQK:
            if regs[dst] == imm:
                pc += off
        elif code == _EXIT:
            return regs[0]
        else:
            raise ValueError("unknown opcode %#x" % code)


class ShimBackend:
    """bpf(2) through the cffi shim ``pyrunc._shim``."""

    def __init__(self):
        from pyrunc._shim import ffi, lib
        self.ffi, self.lib = ffi, lib

    def buffer(self, data_or_size):
        if isinstance(data_or_size, int):
            return self.ffi.new("char[]", data_or_size)
        return self.ffi.new("char[]", bytes(data_or_size))

    def address(self, buf):
        return int(self.ffi.cast("uintptr_t", buf))

    def read(self, buf, n):
        return bytes(self.ffi.buffer(buf, n))

    def bpf(self, cmd, attr_buf, size):
        """-> (ret, errno)"""
        ret = self.lib.pyrunc_bpf(cmd, attr_buf, size)
        return ret, (self.ffi.errno if ret < 0 else 0)


def _bpf(backend, cmd, attr, what):
    buf = backend.buffer(attr)
    ret, err = backend.bpf(cmd, buf, len(attr))
    if ret < 0:
        from pyrunc.linux.cgroups import CgroupError
        e = CgroupError("bpf(%s): %s" % (what, os.strerror(err).lower()))
        e.errno = err
        raise e
    return ret, buf


def load_program(program, backend=None):
    """BPF_PROG_LOAD a device program; returns the program fd."""
    backend = backend or ShimBackend()
    code = backend.buffer(program)
    lic = backend.buffer(b"Apache\0")

    def attr(log_level, log_size, log_addr):
        return struct.pack("<IIQQIIQII16sII", BPF_PROG_TYPE_CGROUP_DEVICE,
                           len(program) // 8, backend.address(code),
                           backend.address(lic), log_level, log_size, log_addr,
                           0, 0, b"pyrunc_dev", 0, BPF_CGROUP_DEVICE)
    try:
        fd, _ = _bpf(backend, BPF_PROG_LOAD, attr(0, 0, 0), "BPF_PROG_LOAD")
        return fd
    except Exception as first:
        if getattr(first, "errno", None) not in (13, 22):  # verifier: get the log
            raise
        log = backend.buffer(1 << 16)
        try:
            fd, _ = _bpf(backend, BPF_PROG_LOAD,
                         attr(1, 1 << 16, backend.address(log)), "BPF_PROG_LOAD")
        except Exception:
            text = backend.read(log, 1 << 16).split(b"\0", 1)[0].decode(errors="replace")
            raise type(first)("%s; verifier log: %s" % (first, text.strip()[-2000:])) from None
        return fd


def query_programs(dirfd, backend):
    """ids of device programs attached to the cgroup."""
    ids = backend.buffer(64 * 4)
    a = struct.pack("<IIIIQI4x", dirfd, BPF_CGROUP_DEVICE, 0, 0,
                    backend.address(ids), 64)
    try:
        _ret, buf = _bpf(backend, BPF_PROG_QUERY, a, "BPF_PROG_QUERY")
    except Exception as e:
        if getattr(e, "errno", None) in (22, 1):
            return []
        raise
    cnt = struct.unpack("<I", backend.read(buf, 28)[24:28])[0]
    raw = backend.read(ids, 4 * min(cnt, 64))
    return list(struct.unpack("<%dI" % (len(raw) // 4), raw))


def attach_program(cgroup_dir, rules, backend=None):
    """Build, load and attach the device program for ``rules`` to the cgroup2
    directory, then detach any device program attached there before."""
    backend = backend or ShimBackend()
    prog = build_program(rules)
    dirfd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        old = query_programs(dirfd, backend)
        progfd = load_program(prog, backend)
        try:
            _bpf(backend, BPF_PROG_ATTACH,
                 struct.pack("<IIIII", dirfd, progfd, BPF_CGROUP_DEVICE,
                             BPF_F_ALLOW_MULTI, 0), "BPF_PROG_ATTACH")
        finally:
            os.close(progfd)
        for pid in old:
            ofd, _ = _bpf(backend, BPF_PROG_GET_FD_BY_ID,
                          struct.pack("<III", pid, 0, 0), "BPF_PROG_GET_FD_BY_ID")
            try:
                _bpf(backend, BPF_PROG_DETACH,
                     struct.pack("<IIIII", dirfd, ofd, BPF_CGROUP_DEVICE, 0, 0),
                     "BPF_PROG_DETACH")
            finally:
                os.close(ofd)
    finally:
        os.close(dirfd)
