"""The web console's static files, shipped inside the Lambda package."""

from pathlib import Path

from chalicelib.errors import NotFound

ROOT = Path(__file__).parent / "console"
# The console's policy, sent as a header with every console file (index.html repeats it
# in a meta element, for a copy saved to disk). Only a header can forbid framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml; charset=utf-8",
}


def asset(name: str) -> tuple[str, str]:
    """(content, content type) of a console file; only plain names inside ROOT."""
    path = ROOT / name
    if "/" in name or name.startswith(".") or path.suffix not in TYPES or not path.is_file():
        raise NotFound(f"There is no console file {name!r}.")
    return path.read_text(encoding="utf-8"), TYPES[path.suffix]
