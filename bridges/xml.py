"""Untrusted XML in, an element tree out, or XmlRefused naming the problem.

Rules (checked in this order, each before the next costs anything):
1. At most `xml_bytes_max` bytes.
2. No document type declaration, no entity declaration: a `<!DOCTYPE` or `<!ENTITY`
   anywhere refuses the document (billion laughs, external entities, DTD retrieval).
3. The encoding is UTF-8, or what the XML declaration names among UTF-8, US-ASCII and
   ISO-8859-1 (public CAP feeds still send Latin-1); any other, or bytes that are not
   valid in it, refuse the document.
4. Parsed by lxml with entity resolution, DTD loading and the network off, streaming:
   more than `xml_depth_max` levels of nesting or `xml_elements_max` elements stop the
   parse at once.
5. The root must be the expected element, namespace included.

Comments and processing instructions are dropped. Nothing here writes or fetches.
"""

import io
import re

from lxml import etree

from protocol import limits

_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_ENCODINGS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "us-ascii": "ascii",
    "ascii": "ascii",
    "iso-8859-1": "latin-1",
    "latin-1": "latin-1",
    "latin1": "latin-1",
}


class XmlRefused(ValueError):
    """A document refused before or while parsing; `reason` is a short code for metrics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _check_encoding(data: bytes) -> None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:4] in (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00"):
        raise XmlRefused("encoding", "document is UTF-16 or UTF-32; send UTF-8")
    declared = _DECLARED.match(data[(data.startswith(b"\xef\xbb\xbf") and 3) or 0 :])
    name = "utf-8" if declared is None else declared.group(1).decode().lower()
    codec = _ENCODINGS.get(name)
    if codec is None:
        raise XmlRefused("encoding", f"encoding {name!r} is not accepted; send UTF-8")
    try:
        data.decode(codec)
    except UnicodeDecodeError as exc:
        raise XmlRefused("encoding", f"byte {exc.start} is not valid {name.upper()}") from None


def parse(data: bytes, root: str, what: str) -> etree._Element:
    """The document's root element, which must be `root` ("{namespace}name" or "name")."""
    if len(data) > limits.xml_bytes_max:
        raise XmlRefused("too_large", f"{what}: {len(data)} bytes; at most {limits.xml_bytes_max} are accepted")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise XmlRefused("dtd", f"{what}: document type and entity declarations are refused")
    _check_encoding(data)
    depth = elements = 0
    top: etree._Element | None = None
    try:
        for event, element in etree.iterparse(
            io.BytesIO(data),
            events=("start", "end"),
            resolve_entities=False,
            load_dtd=False,
            dtd_validation=False,
            no_network=True,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        ):
            if event == "start":
                depth += 1
                elements += 1
                if top is None:
                    top = element
                    if element.tag != root:
                        raise XmlRefused("wrong_root", f"{what}: root element is {element.tag}, not {root}")
                if depth > limits.xml_depth_max:
                    raise XmlRefused("too_deep", f"{what}: nested deeper than {limits.xml_depth_max} elements")
                if elements > limits.xml_elements_max:
                    raise XmlRefused("too_many", f"{what}: more than {limits.xml_elements_max} elements")
            else:
                depth -= 1
    except etree.XMLSyntaxError as exc:
        raise XmlRefused("malformed", f"{what}: not well-formed XML: {exc.msg}") from None
    assert top is not None, "a parse without error has a root"
    return top
