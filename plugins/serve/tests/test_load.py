"""A bounded load test on loopback (slow tier): 32 concurrent clients against a real
uvicorn server; every request answered 200, batching engaged, no thread left behind."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest


@pytest.mark.slow
def test_32_concurrent_clients_on_loopback(served, tmp_path):
    import httpx
    import uvicorn

    from genloom_serve.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(served)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    before = httpx.get(base + "/v1/stats").json()["cvae-digits"]

    def client(i: int) -> list[int]:
        with httpx.Client(base_url=base, timeout=120) as c:
            codes = [c.post("/v1/models/cvae-digits/samples", json={"n": 2, "seed": i * 10 + k, "cond": k}).status_code
                     for k in range(5)]
            codes.append(c.post("/v1/models/gpt-tiny/stream", json={"prompt": "def ", "max_new_tokens": 8,
                                                                    "seed": i}).status_code)
            return codes

    try:
        start = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            codes = [code for codes in pool.map(client, range(32)) for code in codes]
        elapsed = time.monotonic() - start
        after = httpx.get(base + "/v1/stats").json()["cvae-digits"]
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
    assert codes == [200] * len(codes)
    assert after["requests"] - before["requests"] == 160
    assert after["passes"] - before["passes"] < 160 and after["largest_batch"] > 1  # batched under load
    assert not thread.is_alive()
    print(f"{len(codes)} requests from 32 clients in {elapsed:.1f} s; "
          f"{after['passes'] - before['passes']} forward passes for 160 sample requests")
