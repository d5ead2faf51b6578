"""Every sample file the API returns carries the generation record ``genloom sample``
writes, so ``genloom inspect`` reads it and ``genloom reproduce`` draws it again."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from genloom_devkit.testing.helpers import run_cli as _run_cli

ROOT = Path(__file__).resolve().parents[3]


def run_cli(*args: str):
    return _run_cli(*args, cwd=ROOT)


def test_png_from_the_api_is_inspected_and_reproduced(client, runs, tmp_path):
    from genloom.provenance import checkpoint_file, file_sha256
    from genloom_eval.provenance import read_record

    body = {"n": 4, "seed": 11, "cond": [3, 5], "options": {"temperature": 0.9}}
    r = client.post("/v1/models/cvae-digits/samples", json=body)
    assert r.status_code == 200, r.text
    payload = r.json()
    assert payload["file"]["record_embedded"] is True
    png = tmp_path / "api.png"
    png.write_bytes(base64.b64decode(payload["file"]["base64"]))
    as_file = client.post("/v1/models/cvae-digits/samples?format=file", json=body)
    (tmp_path / "file.png").write_bytes(as_file.content)
    for path in (png, tmp_path / "file.png"):
        record = read_record(path)
        assert record is not None, path
        assert (record["source"], record["n"], record["seed"], record["cond"]) == ("serve", 4, 11, [3, 5])
        assert record["options"] == {"temperature": 0.9} and record["ai_generated"] is True
        assert record["checkpoint_sha256"] == file_sha256(checkpoint_file(runs["cvae-digits"]))
        assert record["checkpoint"] == str(runs["cvae-digits"]) and record["kind"] == "image"
    assert {k: v for k, v in payload["record"].items() if k != "time"} == \
        {k: v for k, v in read_record(png).items() if k != "time"}
    shown = run_cli("inspect", str(png), "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["seed"] == 11
    again = run_cli("reproduce", str(png))
    assert again.returncode == 0 and "reproduced: identical" in again.stdout, again.stderr


def test_text_record_comes_with_the_json_and_the_stream(client, runs, tmp_path):
    from genloom.provenance import dumps, sidecar_of

    body = {"seed": 4, "prompt": "def ", "max_new_tokens": 10}
    payload = client.post("/v1/models/gpt-tiny/samples", json=body).json()
    # a .txt file has no place for it: genloom sample writes FILE.genloom.json, the API the JSON field
    assert payload["file"]["record_embedded"] is False
    record = payload["record"]
    assert (record["prompt"], record["seed"], record["source"], record["n"]) == ("def ", 4, "serve", 1)
    text = tmp_path / "api.txt"
    text.write_bytes(base64.b64decode(payload["file"]["base64"]))
    sidecar_of(text).write_text(dumps(record) + "\n")
    again = run_cli("reproduce", str(text))
    assert again.returncode == 0 and "reproduced: identical" in again.stdout, again.stderr
    stream = client.post("/v1/models/gpt-tiny/stream", json=body).text
    done = json.loads(re.search(r"event: done\ndata: (.*)", stream).group(1))
    assert done["record"]["prompt"] == "def " and done["record"]["checkpoint_sha256"] == record["checkpoint_sha256"]


def test_rating_items_carry_no_record(client):
    """Blind rating: a record in a rated file would tell the rater its model (pairwise) or
    that it is generated (real or generated?). The rating's JSONL line holds that instead."""
    page = client.get("/")
    h = {"X-CSRF-Token": re.search(r'CSRF = "([0-9a-f]+)"', page.text).group(1)}
    pair = client.post("/v1/rate/pair/new", json={"models": ["cvae-digits"], "cond": 1}, headers=h).json()
    for side in ("a", "b"):
        data = base64.b64decode(pair[side]["base64"])
        assert b"genloom" not in data and "record_embedded" not in pair[side]
