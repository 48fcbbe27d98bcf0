"""Log lines: one JSON object per line (AWS Lambda Powertools' formatter, so CloudWatch
Logs Insights reads the fields), each record one line whatever user text it
carries, and the AWS SDK's debug output (which shows item keys, among them token
hashes) off."""

import logging
import re

from aws_lambda_powertools import Logger

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


PRODUCT = "oncall"
_product: Logger | None = None


def product() -> Logger:
    """The product's logger, "oncall", parent of every module's "oncall.<part>": its
    warnings (a skipped record, a failed step) and information are written as JSON
    lines on standard output, with the keys the running invocation appended."""
    global _product
    if _product is None:
        _product = Logger(service=PRODUCT, level="INFO")
    return _product


def setup() -> Logger:
    """Configure logging once, before the first request; returns the product's logger."""
    for name in SDK_LOGGERS:
        sdk = logging.getLogger(name)
        # An explicit level: inheriting would follow the root logger down to DEBUG.
        if sdk.level < logging.INFO:
            sdk.setLevel(logging.INFO)
    logging.setLogRecordFactory(_record_with_printable_arguments)
    return product()
