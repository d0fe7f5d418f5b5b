"""pyrunc: an OCI runtime in the style of runc, in Python with a small C shim."""

__version__ = "0.1.0"
# The runtime-spec version pyrunc implements and reports in state JSON.
OCI_VERSION = "1.3.0"


def __getattr__(name):
    # `from pyrunc import Runtime` loads pyrunc.api on first use: the CLI
    # imports this package for every call and must not pay for it
    if name == "Runtime":
        from pyrunc.api import Runtime
        return Runtime
    raise AttributeError("module 'pyrunc' has no attribute %r" % name)
