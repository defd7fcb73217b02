"""Reading and writing tagged HyperPyYAML without running it, through ruamel.yaml.

HyperPyYAML's tags (``!new:``, ``!name:``, ``!apply:``, ``!ref``,
``!PLACEHOLDER``, ...) survive ruamel.yaml's round trip (``YAML(typ="rt")``):
a tagged mapping loads as a ``CommentedMap``, a tagged sequence as a
``CommentedSeq`` and a tagged scalar as a ``TaggedScalar``, each with its
``tag``, and they are written back with it. Nothing is imported or called.

:func:`node_copy` prepares a value for an exported file (comments and
anchors of the source dropped, strings double-quoted, lists of scalars
inline); :func:`fill_slot` puts entries in place of a template's
``key: !PLACEHOLDER`` slot.
"""

import io

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString
from ruamel.yaml.tag import Tag

PLACEHOLDER = "!PLACEHOLDER"
#: tags an exported file must not keep (they need files or values it does not have)
NOT_EXPORTABLE = ("!include:", PLACEHOLDER)


class _Representer(RoundTripRepresenter):
    """ruamel's round-trip representer writing None as ``null`` (not as nothing)."""


_Representer.add_representer(
    type(None),
    lambda representer, _: representer.represent_scalar("tag:yaml.org,2002:null", "null"),
)


def _yaml():
    yaml = YAML(typ="rt")
    yaml.Representer = _Representer
    yaml.indent(mapping=4, sequence=4, offset=2)
    yaml.width = 4096  # never fold a long value over two lines
    return yaml


def read_tagged_yaml(text):
    """Parses HyperPyYAML text without importing or calling anything.

    Arguments
    ---------
    text : str
        YAML text.

    Returns
    -------
    ruamel.yaml.comments.CommentedMap
        The document (empty for an empty text); tagged nodes keep their tag
        (see :func:`tag_of`).

    Example
    -------
    >>> doc = read_tagged_yaml(
    ...     "n: 3\\nf: !name:math.sqrt\\nl: !new:torch.nn.Linear {in_features: 2}")
    >>> doc["n"], tag_of(doc["f"]), tag_of(doc["l"]), dict(doc["l"])
    (3, '!name:math.sqrt', '!new:torch.nn.Linear', {'in_features': 2})
    """
    document = _yaml().load(text)
    return CommentedMap() if document is None else document


def dump_yaml(document):
    """YAML text of a document, comments and tags included.

    Example
    -------
    >>> print(dump_yaml(read_tagged_yaml("a: !ref <b>  # why\\nb: [1, 2]\\n")), end="")
    a: !ref <b>  # why
    b: [1, 2]
    """
    stream = io.StringIO()
    _yaml().dump(document, stream)
    return stream.getvalue()


def tag_of(node):
    """The tag of a node as written (``"!new:torch.nn.Linear"``), or None if it has none.

    Example
    -------
    >>> tag_of(tagged("!ref", "<n>")), tag_of(3), tag_of({"a": 1})
    ('!ref', None, None)
    """
    return getattr(getattr(node, "tag", None), "value", None)


def tagged(tag, value=""):
    """A tagged node: a mapping, a sequence, or a scalar (``""``: a bare tag).

    Arguments
    ---------
    tag : str
        The tag with its ``!`` (``"!new:speechbrain_ptssnn.lobes.PTSSNN"``).
    value : dict, list or scalar
        The node's value.

    Example
    -------
    >>> print(dump_yaml({"x": tagged("!new:torch.nn.Linear", {"in_features": 2}),
    ...                  "f": tagged("!name:math.sqrt")}), end="")
    x: !new:torch.nn.Linear
        in_features: 2
    f: !name:math.sqrt
    """
    if isinstance(value, dict):
        node = CommentedMap(value)
    elif isinstance(value, (list, tuple)):
        node = CommentedSeq(value)
    else:
        return TaggedScalar(value, tag=tag)
    node.yaml_set_ctag(Tag(suffix=tag))
    return node


def ref(target):
    """A ``!ref`` node: ``ref("<n_classes>")``."""
    return tagged("!ref", target)


def node_copy(node):
    """A copy of a value for an exported file, tags kept.

    Comments and anchors of the file it was read from are dropped, strings
    are double-quoted and lists written inline (``[16, 8]``) unless they
    hold a mapping.

    Example
    -------
    >>> doc = read_tagged_yaml(
    ...     "h: &a [16, 8]  # sizes\\nm: !new:m.M\\n  h: *a\\n  s: rate\\n  f: !name:f")
    >>> print(dump_yaml({"m": node_copy(doc["m"]), "h": node_copy(doc["h"])}), end="")
    m: !new:m.M
        h: [16, 8]
        s: "rate"
        f: !name:f
    h: [16, 8]
    """
    if isinstance(node, TaggedScalar):
        return TaggedScalar(node.value, tag=tag_of(node))
    if isinstance(node, dict):
        copy = CommentedMap((key, node_copy(value)) for key, value in node.items())
    elif isinstance(node, (list, tuple)):
        copy = CommentedSeq(node_copy(value) for value in node)
        if all(_inline(value) for value in copy):
            copy.fa.set_flow_style()
    elif isinstance(node, str) and not isinstance(node, ScalarString):
        return DoubleQuotedScalarString(node)
    else:
        return node
    if tag_of(node):
        copy.yaml_set_ctag(Tag(suffix=tag_of(node)))
    return copy


def _inline(node):
    if isinstance(node, CommentedSeq):
        return bool(node.fa.flow_style())
    return not isinstance(node, dict)


def check_exportable(node):
    """Raises ValueError if a node holds a tag an exported file cannot keep.

    Example
    -------
    >>> check_exportable(read_tagged_yaml("a: !new:m.M {b: !ref <c>}"))
    >>> check_exportable(read_tagged_yaml("a: !new:m.M\\n  b: !PLACEHOLDER"))
    Traceback (most recent call last):
    ...
    ValueError: cannot export a !PLACEHOLDER node
    """
    tag = tag_of(node)
    if tag and tag.startswith(NOT_EXPORTABLE):
        raise ValueError(f"cannot export a {tag} node")
    if isinstance(node, dict):
        children = node.values()
    elif isinstance(node, (list, tuple)):
        children = node
    else:
        return
    for child in children:
        check_exportable(child)


def fill_slot(document, key, entries):
    """Puts ``entries`` in place of a template's ``key: !PLACEHOLDER`` slot.

    The entries take the slot's position, in order; the first one takes the
    comment lines above the slot. No entries: the slot goes, with its comment.

    Arguments
    ---------
    document : ruamel.yaml.comments.CommentedMap
        A template read with :func:`read_tagged_yaml`.
    key : str
        The slot.
    entries : dict
        Key -> value (copied with :func:`node_copy`).

    Example
    -------
    >>> doc = read_tagged_yaml("a: 1\\n# b and c\\nslot: !PLACEHOLDER\\nz: 2\\n")
    >>> fill_slot(doc, "slot", {"b": "x", "c": [1]})
    >>> print(dump_yaml(doc), end="")
    a: 1
    # b and c
    b: "x"
    c: [1]
    z: 2
    """
    if tag_of(document.get(key)) != PLACEHOLDER:
        raise ValueError(f"{key!r} is not a {PLACEHOLDER} slot of the template")
    position = list(document).index(key)
    comments = document.ca.items.pop(key, None)
    del document[key]
    for offset, (name, value) in enumerate(entries.items()):
        document.insert(position + offset, name, node_copy(value))
    if comments and entries:
        first = next(iter(entries))
        document.ca.items.setdefault(first, [None, None, None, None])[1] = comments[1]
