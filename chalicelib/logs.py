"""Log lines: each record is one line, whatever user text it carries, and the AWS
SDK's debug output (which shows item keys, among them token hashes) stays off."""

import logging
import re

# What ends a line in some terminal or log viewer, or drives a terminal: C0 and C1
# controls, DEL, and Unicode's line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# The AWS SDK and PynamoDB log every request and answer at DEBUG, item keys
# included, and one table is keyed by token hashes: never let them go below INFO.
SDK_LOGGERS = ("botocore", "boto3", "pynamodb", "urllib3")


def printable(text: str) -> str:
    """`text` on one line: control characters escaped as Python writes them
    (\\n, \\x85, \\u2028), and backslashes doubled so an escape is never ambiguous."""
    return _CONTROL.sub(_escaped, text.replace("\\", "\\\\"))


def _escaped(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    return _SHORT_ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


_make_record = logging.getLogRecordFactory()


def _record_with_printable_arguments(*args, **kwargs) -> logging.LogRecord:
    # Our messages are literal format strings; what a user sent arrives as an
    # argument (an alarm name, a service), so the arguments are what is escaped.
    record = _make_record(*args, **kwargs)
    if isinstance(record.args, tuple):
        record.args = tuple(printable(arg) if isinstance(arg, str) else arg for arg in record.args)
    return record


def setup(product: logging.Logger) -> None:
    """`product` is the app's logger ("oncall"), which Chalice leaves at ERROR: its
    warnings (a skipped record, a failed step) and information must be seen."""
    product.setLevel(logging.INFO)
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        # An explicit level: inheriting would follow the root logger down to DEBUG.
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
    logging.setLogRecordFactory(_record_with_printable_arguments)
