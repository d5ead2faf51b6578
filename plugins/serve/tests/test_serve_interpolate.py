"""POST /v1/models/{name}/interpolate: genloom interpolate's strip over HTTP, with its
generation record, for latent models only; and the file types a kind writes (?suffix=)."""

from __future__ import annotations

import base64
import io

import pytest


def _pixels(b64: str):
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(b64))) as im:
        return im.size, im.tobytes()


def test_interpolation_strip_and_frames(client, served):
    from genloom_eval.interpolation import interpolate

    r = client.post("/v1/models/cvae-digits/interpolate", json={"seeds": [3, 9], "steps": 5, "cond": 4})
    assert r.status_code == 200, r.text
    j = r.json()
    assert len(j["frames"]) == 5 and j["file"]["record_embedded"] is True
    assert j["record"]["interpolation"] == {"seeds": [3, 9], "steps": 5, "method": "slerp"}
    assert j["record"]["n"] == 5 and j["record"]["cond"] == [4] and j["record"]["source"] == "serve"
    # the frames are genloom-eval's walk, decoded in order
    walk = interpolate(served["cvae-digits"].model, [3, 9], steps=5, cond=4)
    first = walk.__class__(data=walk.data[:1], kind=walk.kind)
    assert _pixels(j["frames"][0]["base64"]) == _pixels(
        client.app.state.server.item(served["cvae-digits"], first)["base64"])
    again = client.post("/v1/models/cvae-digits/interpolate", json={"seeds": [3, 9], "steps": 5, "cond": 4}).json()
    assert _pixels(again["file"]["base64"]) == _pixels(j["file"]["base64"])
    assert client.get("/v1/models/cvae-digits").json()["interpolates"] is True
    assert client.get("/v1/models/gpt-tiny").json()["interpolates"] is False


@pytest.mark.parametrize("url,body,status,words", [
    ("/v1/models/gpt-tiny/interpolate", {}, 400, "no latent space"),
    ("/v1/models/cvae-digits/interpolate", {"seeds": [1]}, 422, "2 to 8 seeds"),
    ("/v1/models/cvae-digits/interpolate", {"seeds": list(range(9))}, 422, "2 to 8 seeds"),
    ("/v1/models/cvae-digits/interpolate", {"seeds": [0, 2**40]}, 422, "seed must be"),
    ("/v1/models/cvae-digits/interpolate", {"steps": 1000}, 422, "steps must be 2 to 32"),
    ("/v1/models/cvae-digits/interpolate", {"method": "cubic"}, 422, "slerp or lerp"),
    ("/v1/models/cvae-digits/interpolate", {"cond": 12}, 422, "label 12"),
    ("/v1/models/vae-toy2d/interpolate", {"cond": 1}, 400, "not conditional"),
    ("/v1/models/vae-toy2d/samples?suffix=.exe", {"n": 1}, 422, "suffix must be one of"),
])
def test_bad_interpolations_and_suffixes(client, url, body, status, words):
    r = client.post(url, json=body)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]


def test_samples_in_another_file_type(client):
    import numpy as np

    r = client.post("/v1/models/vae-toy2d/samples?suffix=.npy", json={"n": 5, "seed": 2})
    assert r.status_code == 200 and r.json()["file"]["suffix"] == ".npy"
    array = np.load(io.BytesIO(base64.b64decode(r.json()["file"]["base64"])), allow_pickle=False)
    assert array.shape == (5, 2)
