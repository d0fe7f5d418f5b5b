"""The error raised by the generated schema validator (pyrunc.config._validator).

Kept import-free: the validator imports this module only when a document
is invalid, and the JSON rendering of values imports ``json`` lazily.
"""

#: longest JSON rendering of a value inside a message
RENDER_LIMIT = 60


class ValidationError(ValueError):
    """A document violates its schema.

    ``path`` is the JSON pointer of the offending value ("" for the document
    itself), ``rule`` the violated rule in words.  ``str(err)`` is
    ``"<pointer>: <rule>"``, with the root pointer written as "/".
    """

    def __init__(self, path, rule):
        ValueError.__init__(self, "%s: %s" % (path or "/", rule))
        self.path = path
        self.rule = rule

    def __reduce__(self):
        return (type(self), (self.path, self.rule))


def render(value, limit=RENDER_LIMIT):
    """JSON text of ``value`` for a message, cut to about ``limit`` characters.

    Long arrays and objects keep their first members (nested arrays and
    objects cut the same way) and end in "...]" or "...}"; other long values
    are cut and end in "...".
    """
    import json
    try:
        return _cut(value, limit, json.dumps)[0]
    except (TypeError, ValueError):
        s = repr(value)
        return s if len(s) <= limit else s[:limit - 3] + "..."


def _cut(value, limit, dumps):
    """(text, whether it was cut)"""
    s = dumps(value)
    if len(s) <= limit:
        return s, False
    if isinstance(value, dict):
        items = [(dumps(k) + ": ", v) for k, v in value.items()]
        out, close = "{", "}"
    elif isinstance(value, (list, tuple)):
        items = [("", v) for v in value]
        out, close = "[", "]"
    else:
        return s[:limit - 3] + "...", True
    last = len(items) - 1
    for n, (prefix, v) in enumerate(items):
        room = limit - len(out) - len(prefix) - (0 if n == last else 5) - 1
        if isinstance(v, (dict, list, tuple)) and room >= 5:
            piece, cut = _cut(v, room, dumps)
        else:
            piece, cut = dumps(v), False
            if len(piece) > room:
                break
        out += prefix + piece
        if cut:
            return out + ("" if n == last else ", ...") + close, True
        out += ", "
    return out + "..." + close, True
