"""Every route of genloom serve and every bad input, with FastAPI's TestClient."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import pytest
import torch

from genloom_devkit.testing.helpers import run_cli as _run_cli

ROOT = Path(__file__).resolve().parents[3]


def run_cli(*args: str):
    """``genloom ARGS`` from the repository root (``from conftest import`` would find
    whichever test folder's conftest a pytest worker imported first)."""
    return _run_cli(*args, cwd=ROOT)


def test_models_lists_family_kind_labels_samplers(client):
    r = client.get("/v1/models")
    assert r.status_code == 200
    models = {m["name"]: m for m in r.json()["models"]}
    assert set(models) == {"vae-toy2d", "cvae-digits", "gpt-tiny"}
    vae, cvae, gpt = models["vae-toy2d"], models["cvae-digits"], models["gpt-tiny"]
    assert (vae["family"].split(":")[-1], vae["kind"], vae["conditional"]) == ("vae", "points", False)
    assert "prior" in vae["samplers"] and vae["samplers"]["prior"] == {"temperature": 1.0}
    assert cvae["kind"] == "image" and cvae["labels"] == list(range(10))
    assert gpt["kind"] == "tokens" and gpt["streams"] and "max_new_tokens" in gpt["samplers"][gpt["default_sampler"]]
    assert client.get("/v1/models/gpt-tiny").json()["name"] == "gpt-tiny"
    assert client.get("/openapi.json").json()["paths"]["/v1/models/{name}/samples"]


def _content(data: bytes) -> bytes:
    """What a sample file shows: a PNG's pixels (its metadata holds a generation record
    with the time it was written, docs/provenance.md), or the text itself."""
    if not data.startswith(b"\x89PNG"):
        return data
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.mode.encode() + repr(image.size).encode() + image.tobytes()


@pytest.mark.parametrize("name,args", [("vae-toy2d", {"n": 5, "seed": 3}),
                                       ("cvae-digits", {"n": 4, "seed": 1, "cond": [7]}),
                                       ("gpt-tiny", {"seed": 2, "prompt": "def ", "max_new_tokens": 12})])
def test_same_seed_same_file_as_genloom_sample(client, runs, tmp_path, name, args):
    out = tmp_path / ("cli.txt" if name == "gpt-tiny" else "cli.png")
    cli = ["sample", str(runs[name]), "--seed", str(args["seed"]), "--out", str(out)]
    cli += ["--n", str(args["n"])] if "n" in args else []
    cli += ["--cond", "7"] if "cond" in args else []
    cli += ["--prompt", args["prompt"], "--max-new-tokens", str(args["max_new_tokens"])] if "prompt" in args else []
    result = run_cli(*cli)
    assert result.returncode == 0, result.stderr
    r = client.post(f"/v1/models/{name}/samples", json=args)
    assert r.status_code == 200, r.text
    assert _content(base64.b64decode(r.json()["file"]["base64"])) == _content(out.read_bytes())
    f = client.post(f"/v1/models/{name}/samples?format=file", json=args)
    assert f.status_code == 200 and _content(f.content) == _content(out.read_bytes())
    assert f.headers["content-type"].startswith("image/png" if name != "gpt-tiny" else "text/plain")


def test_stream_is_genloom_sample_stdout_and_stops(client, runs):
    cli = run_cli("sample", str(runs["gpt-tiny"]), "--prompt", "def ", "--max-new-tokens", "20", "--seed", "5")
    assert cli.returncode == 0, cli.stderr
    events = _events(client.post("/v1/models/gpt-tiny/stream",
                                 json={"prompt": "def ", "max_new_tokens": 20, "seed": 5}))
    text = "".join(e["text"] for kind, e in events if kind == "message")
    assert text == cli.stdout
    assert events[-1][0] == "done" and events[-1][1]["finish_reason"] == "length"
    generated = cli.stdout[len("def "):]
    stop = generated[3:5]
    events = _events(client.post("/v1/models/gpt-tiny/stream",
                                 json={"prompt": "def ", "max_new_tokens": 20, "seed": 5, "stop": [stop]}))
    text = "".join(e["text"] for kind, e in events if kind == "message")
    assert text == "def " + generated[: generated.index(stop)]
    assert events[-1][1]["finish_reason"] == "stop"


def _events(response):
    assert response.status_code == 200, response.text
    out = []
    for block in response.text.split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines.get("event", "message"), json.loads(lines["data"])))
    return out


def test_concurrent_requests_are_batched_and_equal_unbatched(make_client, served):
    from genloom_serve.limits import Limits

    client = make_client(limits=Limits(batch_window_s=0.3))
    alone = {s: client.post("/v1/models/cvae-digits/samples", json={"n": 3, "seed": s, "cond": s}).json()
             for s in range(6)}
    before = client.get("/v1/stats").json()["cvae-digits"]
    results, threads = {}, []
    for s in range(6):
        def go(s=s):
            results[s] = client.post("/v1/models/cvae-digits/samples", json={"n": 3, "seed": s, "cond": s}).json()
        threads.append(threading.Thread(target=go))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = client.get("/v1/stats").json()["cvae-digits"]
    assert after["requests"] - before["requests"] == 6
    assert after["passes"] - before["passes"] < 6 and after["largest_batch"] > 1
    for s in range(6):
        # the pixels: the files' generation records hold the time they were written
        assert _content(base64.b64decode(results[s]["file"]["base64"])) == \
            _content(base64.b64decode(alone[s]["file"]["base64"])), s


def test_batched_tensors_equal_unbatched(served):
    from genloom_serve.batching import SampleRequest, batchable, draw_batched, draw_one

    model = served["vae-toy2d"]
    group = [SampleRequest(n=k, seed=s, options={"temperature": 0.7}) for k, s in [(1, 0), (4, 9), (2, 3)]]
    sampler = batchable(model, None)
    assert sampler is not None and batchable(served["gpt-tiny"], None) is None
    for req, got in zip(group, draw_batched(model, sampler, group)):
        ref = draw_one(model, req).data
        # the latents are the same bits; one matmul over a larger batch may round the last
        # float32 bit differently (a BLAS kernel picks its blocking by batch size)
        assert got.data.shape == ref.shape and torch.allclose(got.data, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("url,body,status,words", [
    ("/v1/models/nope/samples", {}, 404, "no model 'nope'"),
    ("/v1/models/vae-toy2d/samples", {"n": 0}, 422, "n must be 1 to 64"),
    ("/v1/models/vae-toy2d/samples", {"n": 65}, 422, "n must be"),
    ("/v1/models/vae-toy2d/samples", {"n": "3"}, 422, "n: Input should be a valid integer"),
    ("/v1/models/vae-toy2d/samples", {"seed": -1}, 422, "seed must be"),
    ("/v1/models/vae-toy2d/samples", {"seed": 2**70}, 422, "seed must be"),
    ("/v1/models/vae-toy2d/samples", {"cond": 3}, 400, "not conditional"),
    ("/v1/models/cvae-digits/samples", {"cond": 10}, 422, "label 10"),
    ("/v1/models/vae-toy2d/samples", {"prompt": "x"}, 400, "takes no prompt"),
    ("/v1/models/vae-toy2d/samples", {"sampler": "zzz"}, 400, "zzz"),
    ("/v1/models/vae-toy2d/samples", {"options": {"tempreature": 1}}, 400, "did you mean"),
    ("/v1/models/vae-toy2d/samples", {"options": {"temperature": "hot"}}, 400, "must be a number"),
    ("/v1/models/vae-toy2d/samples", {"options": {"temperature": 1e300}}, 422, "out of range"),
    ("/v1/models/vae-toy2d/samples", {"options": {"steps": 100000}}, 422, "steps must be"),
    ("/v1/models/vae-toy2d/samples", {"path": "/etc/passwd"}, 422, "Extra inputs"),
    ("/v1/models/vae-toy2d/samples?format=zip", {}, 422, "format must be"),
    ("/v1/models/gpt-tiny/samples", {"prompt": "x" * 3000}, 422, "prompt is longer"),
    ("/v1/models/gpt-tiny/samples", {"max_new_tokens": 100000}, 422, "max_new_tokens must be"),
    ("/v1/models/gpt-tiny/stream", {"max_new_tokens": 0}, 422, "max_new_tokens must be"),
    ("/v1/models/gpt-tiny/samples", {"options": {"knn_weight": 0.5, "knn_store": "/etc"}}, 422,
     "knn_store (a path on the server) cannot be set"),
    ("/v1/models/gpt-tiny/stream", {"stop": [""]}, 422, "stop:"),
    ("/v1/models/gpt-tiny/stream", {"sampler": "beam"}, 400, "cannot stream"),
    ("/v1/models/vae-toy2d/stream", {}, 400, "does not stream"),
])
def test_bad_input_is_a_4xx_with_one_line(client, url, body, status, words):
    r = client.post(url, json=body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert words in error and "\n" not in error and "Traceback" not in error


def test_body_bound_and_bad_json(client):
    r = client.post("/v1/models/vae-toy2d/samples", content=b'{"n": 1, "x": "' + b"a" * 70000 + b'"}',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "over 65536 bytes" in r.json()["error"]
    r = client.post("/v1/models/vae-toy2d/samples", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["error"]


def test_an_internal_error_shows_no_trace(client, served, monkeypatch):
    def boom(*a, **k):
        raise ZeroDivisionError("secret detail")
    monkeypatch.setattr(type(served["vae-toy2d"].kind), "write", boom)
    r = client.post("/v1/models/vae-toy2d/samples", json={"n": 1})
    assert r.status_code == 500 and r.json() == {"error": "internal error (see the server's log)"}


def test_token_on_every_route(make_client):
    client = make_client(token="s3cret")
    for method, url in [("get", "/"), ("get", "/v1/models"), ("get", "/openapi.json"), ("get", "/docs"),
                        ("post", "/v1/models/vae-toy2d/samples"), ("post", "/v1/rate/pair")]:
        r = getattr(client, method)(url)
        assert r.status_code == 401 and "access token" in r.json()["error"], url
        r = getattr(client, method)(url, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401, url
    assert client.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    page = client.get("/?token=s3cret")  # the page sets a cookie its own requests carry
    assert page.status_code == 200 and client.get("/v1/models").status_code == 200


def test_host_rule():
    from genloom.errors import GenloomError
    from genloom_serve.plugin import check_host

    check_host("127.0.0.1", None)
    check_host("0.0.0.0", "t")
    with pytest.raises(GenloomError, match="--token or GENLOOM_SERVE_TOKEN"):
        check_host("0.0.0.0", None)
    result = run_cli("serve", "runs/none", "--host", "0.0.0.0")
    assert result.returncode == 2 and result.stderr.startswith("error: --host 0.0.0.0") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
