"""docs/serving.md's API reference is the app's OpenAPI schema, regenerated, not typed."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_serving_md_reference_is_current():
    from genloom_serve.reference import BEGIN, END, current, rewrite

    text = (ROOT / "docs" / "serving.md").read_text(encoding="utf-8")
    assert rewrite(text, current()) == text, "run: python -m genloom_serve.reference docs/serving.md"
    region = text.split(BEGIN)[1].split(END)[0]
    for route in ("POST /v1/models/{name}/samples", "POST /v1/models/{name}/interpolate",
                  "POST /v1/models/{name}/stream", "POST /v1/rate/pair"):
        assert f"### `{route}`" in region


def test_reference_lists_body_fields_and_query_parameters():
    from genloom_serve.reference import reference

    schema = {"info": {"version": "9"}, "paths": {"/x": {"post": {
        "summary": "Do x", "parameters": [{"in": "query", "name": "format", "schema": {"type": "string",
                                                                                     "default": "json"}}],
        "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/B"}}}}}}},
        "components": {"schemas": {"B": {"required": ["id"], "properties": {
            "id": {"type": "string", "description": "a|b"}, "n": {"type": "integer", "default": 3}}}}}}
    text = reference(schema)
    assert "### `POST /x`" in text and "| `format` | string | `json` |" in text
    assert "| `id` | string | required | a\\|b |" in text and "| `n` | integer | `3` |" in text
