"""``config/README.md`` from the configuration schema: every key, its type, default and
meaning, readable without opening the schema.

The schema (``workflow/schemas/config.schema.yaml``) is the one source: Snakemake
validates every configuration against it, and this module renders it as Markdown, one
table per top-level section, each row a dotted key path (``<name>`` where the key is a
name of your choosing, e.g. ``species.<name>.smiles``; ``[]`` for the items of a list).
``electrolyte-md config-docs`` rewrites the file; ``tests/test_configdoc.py`` fails when
the file and the schema disagree, so the documentation cannot fall behind.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from electrolyte_md.io import atomic_write_text

__all__ = ["README", "SCHEMA", "config_readme", "schema_rows"]

_ROOT = Path(__file__).resolve().parents[2]
SCHEMA = _ROOT / "workflow" / "schemas" / "config.schema.yaml"
README = _ROOT / "config" / "README.md"

_HEADER = """# Configuration keys

Generated from `workflow/schemas/config.schema.yaml` by `electrolyte-md config-docs`
(do not edit by hand: `tests/test_configdoc.py` checks that this file is current).
Every configuration is validated against that schema before any job runs; the model
choices behind the defaults are explained in `docs/models.md`, and
`config/config.yaml` is a complete, commented example.

`<name>` stands for a name of your choosing (a species, salt, system or pair); `[]` for
the items of a list. A key marked **required** must be given where its section is.
"""


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """``node`` with a local ``$ref`` merged in (the node's own keys win)."""
    ref = node.get("$ref")
    if not ref:
        return dict(node)
    target = defs[ref.rsplit("/", 1)[-1]]
    return {**_resolve(target, defs), **{k: v for k, v in node.items() if k != "$ref"}}


def _type_text(node: Mapping[str, Any]) -> str:
    if "enum" in node:
        return "one of " + ", ".join("null" if v is None else f"`{v}`" for v in node["enum"])
    kind = node.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    text = " or ".join(str(k) for k in kinds) or "any"
    bounds = []
    for key, sign in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
    ):
        if key in node:
            bounds.append(f"{sign} {node[key]}")
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def _default_text(node: Mapping[str, Any]) -> str:
    if "default" not in node:
        return ""
    value = node["default"]
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return "`" + yaml.safe_dump(value, default_flow_style=True).strip() + "`"
    return f"`{value}`"


def _description(node: Mapping[str, Any]) -> str:
    return " ".join(str(node.get("description", "")).split()).replace("|", "\\|")


def schema_rows(
    node: Mapping[str, Any], defs: Mapping[str, Any], path: str = ""
) -> Iterator[tuple[str, str, str, str, bool]]:
    """(key path, type, default, description, required) of every key under ``node``."""
    node = _resolve(node, defs)
    required = set(node.get("required", []))
    for key, child in node.get("properties", {}).items():
        child = _resolve(child, defs)
        child_path = f"{path}.{key}" if path else key
        yield (
            child_path,
            _type_text(child),
            _default_text(child),
            _description(child),
            key in required,
        )
        yield from _children(child, defs, child_path)


def _children(
    node: Mapping[str, Any], defs: Mapping[str, Any], path: str
) -> Iterator[tuple[str, str, str, str, bool]]:
    if "properties" in node:
        yield from schema_rows(node, defs, path)
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping):
        extra = _resolve(extra, defs)
        name_path = f"{path}.<name>"
        if "properties" in extra:
            yield from schema_rows(extra, defs, name_path)
        else:
            yield name_path, _type_text(extra), _default_text(extra), _description(extra), False
            yield from _children(extra, defs, name_path)
    items = node.get("items")
    if isinstance(items, Mapping):
        items = _resolve(items, defs)
        if "properties" in items:
            yield from schema_rows(items, defs, f"{path}[]")


def config_readme(schema_path: Path = SCHEMA) -> str:
    """The Markdown of ``config/README.md`` for the schema at ``schema_path``."""
    schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    defs = schema.get("$defs", {})
    lines = [_HEADER]
    top_required = set(schema.get("required", []))
    for section, node in schema["properties"].items():
        node = _resolve(node, defs)
        mark = " (required)" if section in top_required else ""
        lines += [f"## `{section}`{mark}", ""]
        if node.get("description"):
            lines += [_description(node), ""]
        rows = list(_children(node, defs, section))
        if rows:
            lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
            for key, kind, default, description, required in rows:
                meaning = ("**required.** " if required else "") + description
                lines.append(f"| `{key}` | {kind} | {default} | {meaning} |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_config_readme(path: Path = README, schema_path: Path = SCHEMA) -> Path:
    """Rewrite ``config/README.md`` from the schema; return its path."""
    atomic_write_text(path, config_readme(schema_path))
    return path
