"""Entry point of the ``serve`` plugin: the ``genloom serve`` command.

Import-light on purpose (no torch, no FastAPI): genloom imports this module for every
command; ``serve`` imports its machinery when it runs.
"""

from __future__ import annotations

import os

import click

from genloom import hookimpl
from genloom.errors import GenloomError

#: this plugin registers no components; its command comes from the hook below
GENLOOM_COMPONENTS: dict[str, tuple[str, str]] = {}

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_host(host: str, token: str | None) -> None:
    """Anything but loopback needs an access token: a one-line error otherwise."""
    if host not in LOOPBACK and not token:
        raise GenloomError(f"--host {host} exposes the models beyond this machine; give an access token "
                           "with --token or GENLOOM_SERVE_TOKEN (clients send 'Authorization: Bearer TOKEN')")


@hookimpl
def genloom_register_commands(cli: click.Group) -> None:
    @cli.command()
    @click.argument("runs", nargs=-1, required=True, type=click.Path())
    @click.option("--host", default="127.0.0.1", show_default=True,
                  help="Address to bind; anything but loopback needs --token.")
    @click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port.")
    @click.option("--token", default=None, envvar="GENLOOM_SERVE_TOKEN",
                  help="Access token every request must carry (also GENLOOM_SERVE_TOKEN).")
    @click.option("--ratings", type=click.Path(dir_okay=False), default=None,
                  help="JSONL file human ratings are appended to (rating pages are off without it).")
    @click.option("--max-n", type=click.IntRange(1, 4096), default=64, show_default=True,
                  help="Most samples per request.")
    @click.option("--max-batch", type=click.IntRange(1, 4096), default=64, show_default=True,
                  help="Most samples gathered into one forward pass.")
    @click.option("--batch-window-ms", type=click.FloatRange(0, 1000), default=10.0, show_default=True,
                  help="How long a request waits for others to batch with.")
    def serve(runs: tuple[str, ...], host: str, port: int, token: str | None, ratings: str | None,
              max_n: int, max_batch: int, batch_window_ms: float) -> None:
        """Serve RUNS (run folders, checkpoints or exports) over HTTP: a JSON API, token
        streaming, dynamic batching, a web page and human ratings (docs/serving.md).

        \b
        Each run is loaded once and named by its folder (runs/vae-digits -> vae-digits).
          genloom serve runs/vae-digits runs/gpt-pydoc --ratings ratings.jsonl
          genloom serve runs/vae-digits --host 0.0.0.0 --token "$(openssl rand -hex 16)"
        """
        check_host(host, token)
        if ratings is not None and os.path.isdir(ratings):
            raise GenloomError(f"--ratings '{ratings}' is a folder; give a .jsonl file")
        import uvicorn

        from genloom_serve.app import create_app
        from genloom_serve.limits import Limits

        limits = Limits(max_n=max_n, max_batch=max_batch, batch_window_s=batch_window_ms / 1000)
        app = create_app(list(runs), token=token, ratings=ratings, limits=limits)
        click.echo(f"serving {', '.join(app.state.server.models)} on http://{host}:{port}/", err=True)
        uvicorn.run(app, host=host, port=port, log_level="warning")
