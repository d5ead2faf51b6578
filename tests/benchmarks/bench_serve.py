"""genloom serve under load: requests/s and p50/p99 latency at 1, 8 and 32 concurrent
clients, batched (--max-batch 64) and unbatched (--max-batch 1), against the same
requests done by `genloom sample` processes; start-up time and memory of the server;
tokens/s of a stream against `genloom sample --prompt`. Printed, never asserted.

Run: .venv/bin/python tests/benchmarks/bench_serve.py [--requests 48] [--cli-requests 8]
Tiny models (VAE, GAN, DDPM sampled with DDIM 10 steps, a character transformer) are
trained first into a temporary folder, untimed. Each request asks for one sample.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "examples" / "configs"
QUICK = ["trainer.enable_progress_bar=false", "sample.n=0", "checkpoint.every_n_epochs=0",
         "checkpoint.last_every_seconds=0", "trainer.limit_val_batches=1"]
MODELS = {  # name: (config, overrides, request body, `genloom sample` arguments)
    "vae": ("vae-digits.yaml", ["trainer.max_steps=3"], {"n": 1}, ["--n", "1"]),
    "gan": ("gan-digits.yaml", ["trainer.max_steps=3"], {"n": 1}, ["--n", "1"]),
    "diffusion": ("diffusion-digits.yaml", ["trainer.max_steps=3"],
                  {"n": 1, "sampler": "ddim", "options": {"steps": 10}}, ["--n", "1", "--sampler", "ddim", "steps=10"]),
    "gpt": ("transformer-pydoc.yaml", ["model.width=64", "model.layers=2", "model.heads=2", "data.block_size=64",
                                       "trainer.max_steps=5", "trainer.val_check_interval=5"],
            {"prompt": "def ", "max_new_tokens": 32}, ["--prompt", "def ", "--max-new-tokens", "32"]),
}


def genloom(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genloom", *args], capture_output=True, text=True, check=True,
                          cwd=ROOT, **kw)


def train(root: Path) -> dict[str, Path]:
    corpus = root / "corpus.txt"
    corpus.write_text("def add(a, b):\n    return a + b\n\n" * 400, encoding="utf-8")
    runs = {}
    for name, (config, overrides, _, _) in MODELS.items():
        extra = [f"data.path={corpus}"] if name == "gpt" else []
        genloom("train", str(CONFIGS / config), f"output_dir={root / name}", *QUICK, *overrides, *extra)
        runs[name] = root / name
    return runs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    """`genloom serve` in a child process; start-up = launch to the first 200."""

    def __init__(self, runs: dict[str, Path], max_batch: int) -> None:
        import httpx

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        start = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-m", "genloom", "serve", *map(str, runs.values()),
                                      "--port", str(self.port), "--max-batch", str(max_batch)],
                                     cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while True:
            try:
                if httpx.get(self.base + "/v1/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if self.proc.poll() is not None:
                    raise SystemExit(self.proc.stderr.read().decode()[-2000:])
                time.sleep(0.05)
        self.startup = time.perf_counter() - start

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def load(base: str, model: str, body: dict, clients: int, requests: int) -> tuple[float, float, float]:
    """(requests/s, p50 s, p99 s) of ``requests`` POSTs spread over ``clients`` threads."""
    import httpx

    latencies: list[float] = []

    def one(i: int, c: httpx.Client) -> None:
        t = time.perf_counter()
        r = c.post(f"/v1/models/{model}/samples", json={**body, "seed": i})
        r.raise_for_status()
        latencies.append(time.perf_counter() - t)

    def worker(k: int) -> None:
        with httpx.Client(base_url=base, timeout=600) as c:
            for i in range(k, requests, clients):
                one(i, c)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    wall = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return requests / wall, statistics.median(latencies), q[98]


def cli_load(run: Path, args: list[str], clients: int, requests: int, out: Path) -> tuple[float, float, float]:
    """The same requests as `genloom sample` processes, ``clients`` at a time."""
    latencies: list[float] = []

    def one(i: int) -> None:
        t = time.perf_counter()
        suffix = ".txt" if "--prompt" in args else ".png"
        genloom("sample", str(run), "--seed", str(i), *args, "--out", str(out / f"{i}-{clients}{suffix}"))
        latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(requests)))
    wall = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [latencies[0]] * 99
    return requests / wall, statistics.median(latencies), q[98]


def stream_tokens(base: str, tokens: int) -> float:
    import httpx

    start = time.perf_counter()
    with httpx.stream("POST", base + "/v1/models/gpt/stream", timeout=600,
                      json={"prompt": "def ", "max_new_tokens": tokens, "seed": 1}) as r:
        for _ in r.iter_text():
            pass
    return tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=48, help="requests per model and concurrency level")
    parser.add_argument("--cli-requests", type=int, default=8, help="`genloom sample` processes per level")
    parser.add_argument("--tokens", type=int, default=200, help="tokens streamed for tokens/s")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        root = Path(tmp)
        runs = train(root)
        servers = {"batched": Server(runs, 64), "unbatched": Server(runs, 1)}
        try:
            for label, s in servers.items():
                print(f"start-up ({label}, 4 models): {s.startup:.2f} s; memory {rss_mib(s.proc.pid):.0f} MiB RSS")
            print("\n| model | clients | batched req/s | p50 / p99 ms | unbatched req/s | p50 / p99 ms | "
                  "genloom sample req/s | p50 / p99 ms |")
            print("|---|---|---|---|---|---|---|---|")
            for name, (_, _, body, cli_args) in MODELS.items():
                for clients in (1, 8, 32):
                    row = [name, str(clients)]
                    for s in servers.values():
                        rps, p50, p99 = load(s.base, name, body, clients, args.requests)
                        row += [f"{rps:.1f}", f"{p50 * 1e3:.0f} / {p99 * 1e3:.0f}"]
                    if clients <= 8:
                        rps, p50, p99 = cli_load(runs[name], cli_args, clients, args.cli_requests, root)
                        row += [f"{rps:.2f}", f"{p50 * 1e3:.0f} / {p99 * 1e3:.0f}"]
                    else:
                        row += ["(not run)", ""]
                    print("| " + " | ".join(row) + " |", flush=True)
            served = stream_tokens(servers["batched"].base, args.tokens)
            start = time.perf_counter()
            genloom("sample", str(runs["gpt"]), "--prompt", "def ", "--max-new-tokens", str(args.tokens), "--seed", "1")
            cli = args.tokens / (time.perf_counter() - start)
            print(f"\nstreaming {args.tokens} tokens: serve {served:.0f} tokens/s, genloom sample {cli:.0f} tokens/s "
                  f"(its process start included): x{served / cli:.1f}")
            for label, s in servers.items():
                print(f"memory after the load ({label}): {rss_mib(s.proc.pid):.0f} MiB RSS")
        finally:
            for s in servers.values():
                s.close()
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
