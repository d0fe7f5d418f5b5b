"""JSON without importing the json package.

`import json` pulls in json.decoder and json.encoder, which import `re`
(and through it enum): a few milliseconds on every pyrunc invocation. The
C accelerator `_json` that json itself uses has everything needed, so
pyrunc parses and prints JSON with it directly. Errors still come out as
json.JSONDecodeError (the json package is imported only then).
"""
import _json

_WS = " \t\n\r"


class _Ctx:
    # the attributes _json.make_scanner reads
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo = None

    @staticmethod
    def parse_constant(name):
        raise ValueError("invalid constant %s" % name)


_scan = _json.make_scanner(_Ctx())


def _error(msg, doc, pos):
    from json import JSONDecodeError
    return JSONDecodeError(msg, doc, pos)


def loads(data):
    s = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    if s.startswith("\ufeff"):
        raise _error("Unexpected UTF-8 BOM (decode using utf-8-sig)", s, 0)
    n = len(s)
    i = 0
    while i < n and s[i] in _WS:
        i += 1
    try:
        obj, end = _scan(s, i)
    except Exception:
        # the error path: let the json package word it (line and column)
        import json
        return json.loads(s)
    while end < n and s[end] in _WS:
        end += 1
    if end != n:
        raise _error("Extra data", s, end)
    return obj


_enc = _json.encode_basestring


def dumps(obj, indent=None, _level=0):
    """Compact (indent None) or indented output, keys in insertion order."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, str):
        return _enc(obj)
    if isinstance(obj, int):
        return int.__repr__(obj)
    if isinstance(obj, float):
        return float.__repr__(obj)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        if indent is None:
            return "{" + ",".join(_enc(str(k)) + ":" + dumps(v) for k, v in obj.items()) + "}"
        pad = "\n" + indent * (_level + 1)
        return "{" + ",".join(pad + _enc(str(k)) + ": " + dumps(v, indent, _level + 1)
                              for k, v in obj.items()) + "\n" + indent * _level + "}"
    if isinstance(obj, (list, tuple)):
        if not obj:
            return "[]"
        if indent is None:
            return "[" + ",".join(dumps(v) for v in obj) + "]"
        pad = "\n" + indent * (_level + 1)
        return "[" + ",".join(pad + dumps(v, indent, _level + 1) for v in obj) + "\n" \
            + indent * _level + "]"
    raise TypeError("not JSON serializable: %r" % type(obj).__name__)
