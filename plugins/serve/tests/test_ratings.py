"""The page, CSRF, rating records (and their use as an align preference file), a fuzz of
the API, and a real uvicorn server in the slow tier."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]  # not from conftest: see test_api.run_cli


def _csrf(client):
    page = client.get("/")
    assert page.status_code == 200 and "<script>" in page.text and "http" not in page.text.split("<script>")[1].split("fetch")[0]
    return re.search(r'CSRF = "([0-9a-f]+)"', page.text).group(1)


def test_page_has_a_form_per_model_and_no_cdn(client):
    text = client.get("/").text
    for name in ("vae-toy2d", "cvae-digits", "gpt-tiny"):
        assert name in text
    assert "src=\"http" not in text and "href=\"http" not in text


def test_rating_routes_need_the_sessions_csrf_token(client, make_client):
    token = _csrf(client)
    body = {"models": ["vae-toy2d"]}
    assert client.post("/v1/rate/pair/new", json=body).status_code == 403
    assert client.post("/v1/rate/pair/new", json=body, headers={"X-CSRF-Token": "0" * 64}).status_code == 403
    other = make_client()
    other_token = _csrf(other)  # another session's token is no good here
    assert other_token != token
    assert client.post("/v1/rate/pair/new", json=body, headers={"X-CSRF-Token": other_token}).status_code == 403
    assert client.post("/v1/rate/pair/new", json=body, headers={"X-CSRF-Token": token}).status_code == 200


def _preference_pairs(path):
    """The pairs file as the align plugin reads one (docs/alignment.md): one JSON object a
    line with string fields prompt, chosen, rejected. Checked here rather than with
    genloom_align's reader: a library's tests never import a model plugin."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert lines and all(isinstance(obj, dict) and all(isinstance(obj.get(k), str)
                         for k in ("prompt", "chosen", "rejected")) for obj in lines)
    return lines


def test_pairwise_text_records_form_an_align_preference_file(client, tmp_path):
    h = {"X-CSRF-Token": _csrf(client)}
    for choice in ("A", "B", "tie"):
        r = client.post("/v1/rate/pair/new", json={"models": ["gpt-tiny"], "prompt": "def ", "max_new_tokens": 8},
                        headers=h)
        assert r.status_code == 200, r.text
        pair = r.json()
        assert pair["a"]["text"].startswith("def ") and pair["b"]["text"].startswith("def ")
        assert client.post("/v1/rate/pair", json={"id": pair["id"], "choice": choice}, headers=h).json() == {"recorded": True}
        again = client.post("/v1/rate/pair", json={"id": pair["id"], "choice": choice}, headers=h)
        assert again.status_code == 404  # one answer per item
    records = [json.loads(line) for line in (tmp_path / "ratings.jsonl").read_text().splitlines()]
    assert [r["choice"] for r in records] == ["A", "B", "tie"]
    first = records[0]
    assert first["a"]["model"] == "gpt-tiny" and first["a"]["seed"] != first["b"]["seed"]
    assert first["a"]["checkpoint"] and first["time"] and first["prompt"] == "def "
    assert first["chosen"] == first["a"]["text"] and first["rejected"] == first["b"]["text"]
    pairs = _preference_pairs(tmp_path / "ratings.pairs.jsonl")
    assert len(pairs) == 2 and pairs[0]["prompt"] == "def " and pairs[1]["chosen"] == records[1]["b"]["text"]


def test_pairwise_images_and_real_or_generated(client, tmp_path):
    h = {"X-CSRF-Token": _csrf(client)}
    pair = client.post("/v1/rate/pair/new", json={"models": ["vae-toy2d", "cvae-digits"]}, headers=h)
    assert pair.status_code == 422 and "same kind" in pair.json()["error"]
    pair = client.post("/v1/rate/pair/new", json={"models": ["cvae-digits"], "cond": 3}, headers=h).json()
    assert pair["a"]["media_type"] == "image/png"
    client.post("/v1/rate/pair", json={"id": pair["id"], "choice": "B"}, headers=h)
    sources = set()
    for _ in range(12):
        item = client.post("/v1/rate/real/new", json={"model": "cvae-digits"}, headers=h)
        assert item.status_code == 200, item.text
        r = client.post("/v1/rate/real", json={"id": item.json()["id"], "answer": "real"}, headers=h)
        assert r.status_code == 200
    records = [json.loads(line) for line in (tmp_path / "ratings.jsonl").read_text().splitlines()]
    assert records[0]["type"] == "pairwise" and records[0]["winner"] == "cvae-digits" and "chosen" not in records[0]
    real = [r for r in records if r["type"] == "real_or_generated"]
    sources = {r["source"] for r in real}
    assert len(real) == 12 and sources == {"real", "generated"}
    assert all(r["correct"] == (r["source"] == "real") for r in real)
    from genloom_eval.human import human_report, read_ratings

    report = human_report(read_ratings(tmp_path / "ratings.jsonl"))  # what genloom evaluate --human reads
    assert report["realism"][0]["model"] == "cvae-digits" and report["same_model_pairs"] == 1
    bad = client.post("/v1/rate/real", json={"id": "x", "answer": "maybe"}, headers=h)
    assert bad.status_code == 422


def test_pairwise_on_a_conditional_model_without_a_label_draws_one(client, tmp_path):
    """Found by the browser test: the pairwise tab sent no label and a conditional model failed."""
    h = {"X-CSRF-Token": _csrf(client)}
    pair = client.post("/v1/rate/pair/new", json={"models": ["cvae-digits"]}, headers=h)
    assert pair.status_code == 200, pair.text
    client.post("/v1/rate/pair", json={"id": pair.json()["id"], "choice": "tie"}, headers=h)
    record = json.loads((tmp_path / "ratings.jsonl").read_text().splitlines()[-1])
    assert record["a"]["cond"] == record["b"]["cond"] and record["a"]["cond"] in range(10)


def test_ratings_off_without_a_file(make_client):
    client = make_client(ratings=None)
    r = client.post("/v1/rate/pair/new", json={"models": ["vae-toy2d"]}, headers={"X-CSRF-Token": _csrf(client)})
    assert r.status_code == 409 and "--ratings" in r.json()["error"]


def test_append_is_whole_lines_after_a_torn_one(tmp_path):
    from genloom_serve.ratings import append_record

    path = tmp_path / "r.jsonl"
    append_record(path, {"a": 1})
    with open(path, "ab") as f:
        f.write(b'{"torn": ')  # a crash mid-write
    append_record(path, {"b": 2})
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == {"a": 1} and json.loads(lines[-1]) == {"b": 2}


def test_fuzz_the_api_never_5xx(client):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
    body = st.one_of(
        st.dictionaries(st.sampled_from(["n", "seed", "cond", "sampler", "options", "prompt", "max_new_tokens",
                                         "stop", "x"]),
                        st.one_of(scalar, st.lists(scalar, max_size=3),
                                  st.dictionaries(st.text(max_size=12), scalar, max_size=3)), max_size=5),
        scalar, st.lists(scalar, max_size=3))
    url = st.sampled_from(["/v1/models/vae-toy2d/samples", "/v1/models/cvae-digits/samples",
                           "/v1/models/gpt-tiny/samples", "/v1/models/gpt-tiny/stream", "/v1/models/%00/samples",
                           "/v1/rate/pair", "/v1/models/vae-toy2d/samples?format=file"])

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(url, body)
    def check(u, b):
        r = client.post(u, content=json.dumps(b, allow_nan=True), headers={"Content-Type": "application/json"})
        assert r.status_code < 500, (u, b, r.text)

    check()


@pytest.mark.slow
def test_a_real_uvicorn_server_on_loopback(runs, tmp_path):
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "genloom", "serve", str(runs["vae-toy2d"]), str(runs["gpt-tiny"]),
                             "--port", str(port), "--ratings", str(tmp_path / "r.jsonl")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(base + "/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not come up")
        r = httpx.post(base + "/v1/models/vae-toy2d/samples", json={"n": 4, "seed": 1}, timeout=30)
        assert r.status_code == 200 and r.json()["n"] == 4
        with httpx.stream("POST", base + "/v1/models/gpt-tiny/stream", json={"prompt": "def ", "max_new_tokens": 10},
                          timeout=30) as s:
            text = "".join(s.iter_text())
        assert "event: done" in text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
