"""No code path may read a whole table: every read is a GetItem or a Query.

The request counter in tests/dynamo.py fails any test whose code issues a Scan
at run time; this test also rejects one written anywhere in the product code.
"""

import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SCAN = re.compile(r"\.scan\(|\bScan\b|\.parallel_scan\(")


def product_files():
    yield PROJECT / "app.py"
    yield from (PROJECT / "chalicelib").rglob("*.py")
    yield from (PROJECT / "oncall_local").rglob("*.py")


def test_product_code_never_scans():
    offenders = []
    for path in product_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if SCAN.search(line) and not line.lstrip().startswith("#"):
                offenders.append(f"{path.relative_to(PROJECT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_runtime_hook_rejects_a_scan():
    from chalicelib.models import Incident

    try:
        list(Incident.scan(limit=1))
    except AssertionError as error:
        assert "Scan" in str(error)
    else:
        raise AssertionError("a Scan went through without the request counter noticing")
