"""Errors the node reports to its callers (the API turns them into HTTP statuses)."""


class StorageFailed(Exception):
    """The store refused a write (disk full, I/O error): nothing was acknowledged."""


class NotWritable(Exception):
    """Our own log may exist on peers we have not reached yet: writing now could fork it."""
