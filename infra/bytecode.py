"""Compiled bytecode in the Lambda package, so a cold start does not compile every
module it imports (a function's code directory is read-only: what Python compiles
there is thrown away, every cold start again).

    python -m infra.bytecode build/package

Reads the runtime from the packaged template, refuses to go on unless this
interpreter is that version (bytecode is specific to it), and rewrites
deployment.zip with a __pycache__ entry for every module in it, in place of any
bytecode copied from the working tree. The entries are
unchecked-hash .pyc files: Python uses them without comparing them to the
source's modification time, which unzipping does not keep reliably.
"""

import argparse
import compileall
import json
import py_compile
import sys
import tempfile
import zipfile
from pathlib import Path


def runtime_of(template: dict) -> str:
    runtimes = {
        resource["Properties"]["Runtime"]
        for resource in template["Resources"].values()
        if resource.get("Type") == "AWS::Serverless::Function"
    }
    if len(runtimes) != 1:
        raise SystemExit(f"expected one Lambda runtime in the template, found {sorted(runtimes)}")
    return runtimes.pop()


def add_bytecode(package_dir: Path) -> int:
    template = json.loads((package_dir / "sam.json").read_text())
    runtime = runtime_of(template)
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtime != here:
        raise SystemExit(f"the functions run {runtime}; compile their bytecode with {runtime}, not {here}")
    archive = package_dir / "deployment.zip"
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        with zipfile.ZipFile(archive) as source:
            # Bytecode Chalice copied from the working tree may be of another Python, or stale.
            kept = [info for info in source.infolist() if "__pycache__/" not in info.filename]
            for info in kept:
                source.extract(info, root)
        compileall.compile_dir(
            root, quiet=1, legacy=False, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH, workers=0
        )
        compiled = sorted(root.rglob("__pycache__/*.pyc"))
        rebuilt = archive.with_suffix(".tmp")
        with zipfile.ZipFile(rebuilt, "w", compression=zipfile.ZIP_DEFLATED) as target:
            for info in kept:
                target.writestr(info, (root / info.filename).read_bytes() if not info.is_dir() else b"")
            for path in compiled:
                target.write(path, path.relative_to(root).as_posix())
        rebuilt.replace(archive)
    return len(compiled)


def main() -> None:
    parser = argparse.ArgumentParser(description="Add compiled bytecode to the Lambda package.")
    parser.add_argument("package_dir", type=Path)
    added = add_bytecode(parser.parse_args().package_dir)
    print(f"added {added} compiled modules to the deployment package")


if __name__ == "__main__":
    main()
