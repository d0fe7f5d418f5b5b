"""One file holding the package's compiled modules, for the launcher.

Importing a module the usual way costs a path search, a stat, an open and a
read of its .pyc; pyrunc's `run` imports about 45 of its own modules, and
that overhead was about 2 ms of every call (issue 14). The build
(setup.py) writes ``pyrunc/_bundle.bin`` with every module of the installed
package, compiled; the launcher (pyrunc/cli/bin/pyrunc) puts a finder for
it first on ``sys.meta_path``, which serves a module with one ``pread``.

Layout: MAGIC, a 4-byte little-endian length N, N bytes of
``marshal.dumps((pyc_magic, index))``, then the marshalled code objects one
after the other. ``index`` maps a module name to ``(path relative to the
package dir, is_package, size of the source in bytes, offset, length)``;
offsets count from the end of the header. The launcher reads this with code
of its own (it imports nothing to do so) and uses an entry only while:

  * the interpreter's pyc magic number equals ``pyc_magic`` (the same
    bytecode format), and
  * the module's source file still exists with the recorded size.

Anything else (no bundle, a damaged one, ``PYTHONPATH`` set) is the normal
import. Nothing but the launcher reads the bundle; ``python -m pyrunc`` and
code that imports pyrunc as a library use the normal import.
"""
import os

MAGIC = b"PYRUNCB1"
NAME = "_bundle.bin"


def build(pkgdir, out=None):
    """Write the bundle of every .py under pkgdir (the package named after
    pkgdir's base name); returns the index."""
    import importlib.util
    import marshal
    pkg = os.path.basename(os.path.normpath(pkgdir))
    out = out or os.path.join(pkgdir, NAME)
    index = {}
    blobs = []
    off = 0
    for dirpath, dirnames, filenames in os.walk(pkgdir):
        dirnames.sort()
        for fn in sorted(filenames):
            if not fn.endswith(".py"):
                continue
            path = os.path.join(dirpath, fn)
            rel = os.path.relpath(path, pkgdir)
            parts = rel[:-3].split(os.sep)
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts.pop()
            with open(path, "rb") as f:
                src = f.read()
            # the launcher points co_filename at the installed file
            code = marshal.dumps(compile(src, path, "exec", dont_inherit=True))
            index[".".join([pkg] + parts)] = (rel, is_pkg, len(src), off, len(code))
            blobs.append(code)
            off += len(code)
    head = marshal.dumps((importlib.util.MAGIC_NUMBER, index))
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(MAGIC + len(head).to_bytes(4, "little") + head)
        for b in blobs:
            f.write(b)
    os.replace(tmp, out)
    return index


def read_index(path):
    """(pyc_magic, index) of a bundle; for tests and inspection."""
    import marshal
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != MAGIC:
        raise ValueError("%s: not a pyrunc code bundle" % path)
    n = int.from_bytes(data[8:12], "little")
    return marshal.loads(data[12:12 + n])
