"""Pure mappings between QROC incidents and CAP 1.2, EDXL-DE 2.0, EMSI and Cursor-on-Target.

Like protocol/, nothing here performs I/O or reads a clock: documents come in as bytes,
incidents as plain values (the API's JSON shape, `model.Incident`), and results leave as
values. `xml.parse` is the one door for untrusted XML. The node calls these; the mapping
tables are in docs/standards.md.
"""
