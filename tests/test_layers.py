"""chalicelib's packages form layers: each imports only the packages below it (and
the base modules at chalicelib's top), so a reader can take them bottom-up and no
change to a lower concept needs a higher one."""

import ast
from pathlib import Path

CHALICELIB = Path(__file__).resolve().parent.parent / "chalicelib"
# Top to bottom; "" is the base modules directly in chalicelib/.
LAYERS = [
    "routes",
    "integration",
    "notify",
    "escalation",
    "heartbeat",
    "incident",
    "report",
    "maintenance",
    "schedule",
    "people",
    "apikey",
    "api",
    "transport",
    "",
]


def package_of(module: str) -> str:
    """The layer of a dotted chalicelib module name."""
    parts = module.split(".")
    if len(parts) > 2 and parts[1] in LAYERS:
        return parts[1]
    if len(parts) == 2 and parts[1] in LAYERS:
        return parts[1]
    return ""


def imports_of(path: Path) -> list[str]:
    """The chalicelib modules `path` imports, absolute."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("chalicelib"):
            assert node.level == 0, f"{path}: relative import"
            if node.module == "chalicelib":
                found += [f"chalicelib.{alias.name}" for alias in node.names]
            else:
                found.append(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; chalicelib imports are absolute")
    return found


def test_every_import_points_down_the_layers():
    wrong = []
    for path in sorted(CHALICELIB.rglob("*.py")):
        own = package_of(".".join(path.relative_to(CHALICELIB.parent).with_suffix("").parts))
        for module in imports_of(path):
            used = package_of(module)
            if used != own and LAYERS.index(used) < LAYERS.index(own):
                wrong.append(
                    f"{path.relative_to(CHALICELIB.parent)} imports {module} ({used or 'base'} above {own or 'base'})"
                )
    assert wrong == []


def test_every_module_is_in_a_layer():
    folders = {path.parent.name for path in CHALICELIB.rglob("*.py") if path.parent != CHALICELIB}
    assert folders <= set(LAYERS)
