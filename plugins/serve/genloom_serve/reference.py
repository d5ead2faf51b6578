"""The API reference in docs/serving.md, generated from the app's OpenAPI schema.

``python -m genloom_serve.reference docs/serving.md`` rewrites the part of the file
between ``<!-- api-reference: begin -->`` and ``<!-- api-reference: end -->``;
``--check`` exits 1 when it is stale (the serve tests check it too). Never typed by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- api-reference: begin -->", "<!-- api-reference: end -->"


def _type(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"])
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema:
        return f"object of {_type(schema['additionalProperties'])}" if schema["additionalProperties"] else "object"
    return str(kind)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def reference(schema: dict[str, Any]) -> str:
    """Markdown: one section per route (summary, query parameters, body fields)."""
    parts = [f"Generated from the OpenAPI schema of genloom serve {schema['info']['version']} "
             "(`python -m genloom_serve.reference docs/serving.md`); the live schema is at `/openapi.json`."]
    components = schema.get("components", {}).get("schemas", {})
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            parts.append(f"### `{method.upper()} {path}`\n\n{op.get('summary', '')}.")
            params = [p for p in op.get("parameters", []) if p["in"] == "query"]
            if params:
                rows = [f"| `{p['name']}` | {_type(p.get('schema', {}))} | `{p.get('schema', {}).get('default')}` |"
                        for p in params]
                parts.append("| query | type | default |\n|---|---|---|\n" + "\n".join(rows))
            ref = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            body = components.get(ref.get("$ref", "").rsplit("/", 1)[-1])
            if body:
                required = set(body.get("required", []))
                rows = []
                for name, field in body.get("properties", {}).items():
                    default = ("required" if name in required else f"`{field['default']}`" if "default" in field
                               else "empty")
                    rows.append(f"| `{name}` | {_cell(_type(field))} | {default} | {_cell(field.get('description', ''))} |")
                parts.append("| body field | type | default | what |\n|---|---|---|---|\n" + "\n".join(rows))
    return "\n\n".join(parts)


def current() -> str:
    from genloom_serve.app import create_app

    return reference(create_app({}).openapi())


def rewrite(text: str, generated: str) -> str:
    if BEGIN not in text or END not in text:
        raise SystemExit(f"error: the file has no {BEGIN} ... {END} region")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{generated}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    paths = [a for a in args if a != "--check"]
    if len(paths) != 1:
        print("usage: python -m genloom_serve.reference [--check] docs/serving.md", file=sys.stderr)
        return 2
    path = Path(paths[0])
    text = path.read_text(encoding="utf-8")
    new = rewrite(text, current())
    if check:
        return 0 if new == text else 1
    path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
