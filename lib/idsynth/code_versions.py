"""Generator code versions: what a cache key says about the code that fitted a model.

Every generator class has a ``CODE_VERSION``, bumped when a change alters what its fits learn
(beyond rounding); :func:`code_versions` of a generator is part of its cache key
(:func:`idsynth.runs.generator_key`), so a bump refits every cached model of the class.
``models/code_versions.json`` (:data:`MANIFEST`) records each class's version and a digest of the
files its fits run (:func:`code_files`); ``tests/test_runs.py`` fails when that code changed
without a new record, so that a change to model code is always a decision: bump, or record that
only rounding moved.

    python -m idsynth.code_versions            # what changed since the record
    python -m idsynth.code_versions --record   # after deciding: rewrite the record
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
from pathlib import Path
from typing import Any


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def code_versions(generator) -> dict[str, int | None]:
    """``{qualified class: CODE_VERSION}`` of ``generator`` and of every generator among its
    parameters (e.g. VGM inside an EncodedFrameGenerator); None for a class without one."""
    versions = {qualified_name(type(generator)): getattr(type(generator), "CODE_VERSION", None)}
    if hasattr(generator, "get_params"):
        for value in generator.get_params(deep=False).values():
            if hasattr(value, "get_params") and not isinstance(value, type):
                versions.update(code_versions(value))
    return versions


#: Modules left out of a generator's code digest: settings and infrastructure, not model code.
NOT_MODEL_CODE: tuple[str, ...] = ("idsynth.config", "idsynth.cache")
#: The recorded code version and source digest of every registered generator class.
MANIFEST = Path(__file__).parent / "models" / "code_versions.json"


def _imported_modules(path: Path, module: str) -> set[str]:
    """The ``idsynth`` modules that the file of ``module`` imports (absolute or relative)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.startswith("idsynth.") and m not in NOT_MODEL_CODE}


def code_files(cls: type) -> list[Path]:
    """The source files a generator class's fits run: its module and every ``idsynth`` module it
    imports, transitively (:data:`NOT_MODEL_CODE` left out), and a C++ file beside a module under
    the same name (the TabVAE's kernels); sorted."""
    import importlib.util

    seen: dict[str, Path] = {}
    todo = [cls.__module__]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, AttributeError, ValueError):  # a name imported from a module, not a module
            continue
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            continue
        seen[module] = Path(spec.origin)
        todo += sorted(_imported_modules(seen[module], module) - set(seen))
    files = set(seen.values())
    files |= {p.with_suffix(".cpp") for p in seen.values() if p.with_suffix(".cpp").is_file()}
    return sorted(files)


def code_digest(cls: type) -> str:
    """16 hex digits of SHA-256 over :func:`code_files` (paths relative to the package, bytes)."""
    root = Path(sys.modules["idsynth"].__file__).parent
    digest = hashlib.sha256()
    for path in code_files(cls):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def recorded_versions() -> dict[str, dict[str, Any]]:
    """:data:`MANIFEST`: ``{qualified class: {"version", "digest", "files"}}``."""
    return json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}


def record_versions(classes) -> dict[str, dict[str, Any]]:
    """Write each class's ``CODE_VERSION``, :func:`code_digest` and files into :data:`MANIFEST`:
    what a developer runs after checking that a change to a generator's code only changes
    rounding (else: bump ``CODE_VERSION`` first). Returns the manifest."""
    root = Path(sys.modules["idsynth"].__file__).parent
    manifest = recorded_versions()
    for cls in classes:
        manifest[qualified_name(cls)] = {"version": getattr(cls, "CODE_VERSION", None), "digest": code_digest(cls),
                                         "files": [str(p.relative_to(root)) for p in code_files(cls)]}
    MANIFEST.write_text(json.dumps(dict(sorted(manifest.items())), indent=1) + "\n")
    return manifest


def generator_classes() -> list[type]:
    """Every generator class a registered generator is built from (and VGM, fitted on arrays by
    notebooks 01-04), in registry order."""
    from .config import get_profile
    from .models import registry
    from .models.vgm import VGM

    classes: dict[str, type] = {}
    smoke = get_profile("smoke")
    for name in registry.names():
        if not registry.available(name):
            continue
        generator = registry.make(name, smoke, 0, device="cpu")
        for qualified in code_versions(generator):
            module, _, cls_name = qualified.rpartition(".")
            classes.setdefault(qualified, getattr(sys.modules[module], cls_name))
    classes.setdefault(qualified_name(VGM), VGM)
    return list(classes.values())


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m idsynth.code_versions",
                                     description="Record every generator's code version and source digest "
                                                 "(lib/idsynth/models/code_versions.json).")
    parser.add_argument("--record", action="store_true", help="rewrite the manifest from the current code")
    args = parser.parse_args(argv)
    recorded = recorded_versions()
    for cls in generator_classes():
        name, now = qualified_name(cls), code_digest(cls)
        entry = recorded.get(name, {})
        state = "same" if entry.get("digest") == now and entry.get("version") == getattr(cls, "CODE_VERSION", None) \
            else "CHANGED"
        print(f"{name}: version {getattr(cls, 'CODE_VERSION', None)}, digest {now} ({state})")
    if args.record:
        record_versions(generator_classes())
        print(f"recorded in {MANIFEST}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
