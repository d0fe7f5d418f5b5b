"""Build steps that setup.cfg cannot express.

At install time (never at run time) this:
  * compiles the cffi shim pyrunc._shim (API mode) from csrc/;
  * compiles csrc/init.c into the static helper pyrunc/_init_helper.bin;
  * generates pyrunc/config/_validator.py from schemas/*.json;
  * bundles the package's compiled modules into pyrunc/_bundle.bin, which
    the launcher imports from (pyrunc/codebundle.py). Not for an editable
    install: its sources change under it.
"""
import os
import shutil
import subprocess
import sys
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = ["config.schema.json", "state.schema.json", "features.schema.json"]


def build_init_helper(out):
    """Static, with musl where musl-gcc is installed (Debian: musl-tools):
    60 KB instead of glibc's 700 KB. Every container process copies it into
    a memfd and execs it; the glibc one costs 0.4 ms of CPU to start, the
    musl one 0.08 ms. $CC, when set, is used as it is."""
    src = os.path.join(HERE, "csrc", "init.c")
    cc = os.environ.get("CC")
    if not cc and shutil.which("musl-gcc"):
        with tempfile.TemporaryDirectory() as inc:
            _kernel_headers(inc)
            subprocess.check_call(["musl-gcc", "-static", "-Os", "-s", "-Wall", "-isystem", inc,
                                   "-o", out, src])
        return
    subprocess.check_call([cc or "cc", "-static", "-Os", "-s", "-Wall", "-o", out, src])


def _kernel_headers(into):
    """musl ships no kernel headers: expose only the system's linux/, asm/
    and asm-generic/ (not glibc's own headers) to musl-gcc."""
    arch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True,
                          text=True).stdout.strip()
    for name, where in (("linux", "/usr/include"), ("asm-generic", "/usr/include"),
                        ("asm", os.path.join("/usr/include", arch)), ("asm", "/usr/include")):
        path = os.path.join(where, name)
        if os.path.isdir(path) and not os.path.exists(os.path.join(into, name)):
            os.symlink(path, os.path.join(into, name))


def generate_validator(out):
    sys.path.insert(0, HERE)
    try:
        from pyrunc.config import schemagen
    finally:
        sys.path.pop(0)
    schemagen.write_module(out, [os.path.join(HERE, "schemas", s) for s in SCHEMAS])


def build_bundle(pkgdir):
    sys.path.insert(0, HERE)
    try:
        from pyrunc import codebundle
    finally:
        sys.path.pop(0)
    codebundle.build(pkgdir)


def build_generated(pkgdir, bundle=True):
    build_init_helper(os.path.join(pkgdir, "_init_helper.bin"))
    generate_validator(os.path.join(pkgdir, "config", "_validator.py"))
    stale = os.path.join(pkgdir, "_bundle.bin")
    if bundle:
        build_bundle(pkgdir)        # last: it holds the generated validator
    elif os.path.exists(stale):
        os.remove(stale)


class BuildPy(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            build_generated(os.path.join(HERE, "pyrunc"), bundle=False)
        else:
            build_generated(os.path.join(self.build_lib, "pyrunc"))


if __name__ == "__main__":
    if sys.argv[1:] == ["generated"]:
        # Developer shortcut: build the generated files in the source tree.
        build_generated(os.path.join(HERE, "pyrunc"), bundle=False)
        sys.exit(0)
    setup(cffi_modules=["csrc/build_shim.py:ffibuilder", "csrc/build_seccomp.py:ffibuilder"], cmdclass={"build_py": BuildPy})
