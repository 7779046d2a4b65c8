"""Logging filters for the review tool: the access log must not carry what staff searched for.

Django's development server logs each request line, query string included: a search for a
patient's words or phone number would land in the log. DropQueryStrings keeps the path only.
"""
from __future__ import annotations

import logging
import re

_QUERY = re.compile(r"\?[^\s\"]*")


class DropQueryStrings(logging.Filter):
    """'"GET /?q=sore+knee HTTP/1.1" 200 512' is logged as '"GET /?… HTTP/1.1" 200 512'."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_QUERY.sub("?…", a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = _QUERY.sub("?…", record.msg)
        return True
