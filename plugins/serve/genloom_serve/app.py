"""The FastAPI application ``genloom serve`` runs: the JSON API, the page, the rating routes.

Every route answers errors as ``{"error": "<one line>"}`` with a 4xx status; an
unexpected exception is logged here and answered ``500 {"error": "internal error"}``,
never with a stack trace. Requests name models (chosen at start-up) and never files.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import logging
import math
import mimetypes
import queue
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Union

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr
from starlette.exceptions import HTTPException

from genloom.errors import GenloomError
from genloom_serve.batching import Batcher, SampleRequest
from genloom_serve.limits import Limits
from genloom_serve.models import ServedModel, load_models
from genloom_serve.ratings import append_record, pairs_path

log = logging.getLogger("genloom_serve")

Scalar = Union[StrictBool, StrictInt, StrictFloat, StrictStr, None]
OptionValue = Union[Scalar, dict[str, Scalar]]
MEDIA = {".png": "image/png", ".txt": "text/plain; charset=utf-8", ".wav": "audio/wav",
         ".mid": "audio/midi", ".midi": "audio/midi", ".abc": "text/plain; charset=utf-8",
         ".npy": "application/octet-stream", ".svg": "image/svg+xml"}
MAX_SEED = 2**32 - 1


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SampleBody(_Body):
    n: StrictInt | None = Field(None, description="samples [default: the kind's, 64 images, 1 text]")
    seed: StrictInt = Field(0, description="equal seeds give equal samples, as genloom sample --seed")
    cond: StrictInt | list[StrictInt] | None = Field(None, description="class label(s), cycled over n")
    sampler: StrictStr | None = Field(None, description="a sampler from GET /v1/models [default: the model's]")
    options: dict[str, OptionValue] = Field(default_factory=dict, description="sampler options")
    prompt: StrictStr | None = Field(None, description="text models: the text to continue")
    max_new_tokens: StrictInt | None = Field(None, description="text models: tokens after the prompt")


class StreamBody(_Body):
    seed: StrictInt = 0
    sampler: StrictStr | None = None
    options: dict[str, OptionValue] = Field(default_factory=dict)
    prompt: StrictStr = ""
    max_new_tokens: StrictInt | None = Field(None, description="[default: the sampler's]")
    stop: list[StrictStr] = Field(default_factory=list, description="stop before any of these strings")


class InterpolateBody(_Body):
    seeds: list[StrictInt] = Field([0, 1], description="2 to 8 seeds; the strip walks from each to the next")
    steps: StrictInt = Field(8, description="points per segment, 2 to 32")
    method: StrictStr = Field("slerp", description="slerp (along the sphere Gaussian latents live near) or lerp")
    cond: StrictInt | None = Field(None, description="class label of a conditional model [default: 0]")


class PairBody(_Body):
    models: list[StrictStr] = Field(description="two models, or one model (two seeds)")
    prompt: StrictStr | None = None
    cond: StrictInt | None = None
    max_new_tokens: StrictInt | None = None


class PairChoice(_Body):
    id: StrictStr
    choice: StrictStr = Field(description="A, B or tie")


class RealBody(_Body):
    model: StrictStr


class RealAnswer(_Body):
    id: StrictStr
    answer: StrictStr = Field(description="real or generated")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())[:500]}, status_code=status)


class Guard:
    """ASGI middleware: the access token on every route (when one is set) and the body bound."""

    def __init__(self, app: Any, token: str | None, max_body: int) -> None:
        self.app, self.token, self.max_body = app, token, max_body

    def _authorized(self, scope: dict[str, Any]) -> bool:
        if not self.token:
            return True
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        given = []
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given.append(auth[7:].strip())
        for part in headers.get("cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == "genloom_token":
                given.append(value)
        from urllib.parse import parse_qs

        given += parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [])
        expected = self.token.encode("utf-8")
        ok = False
        for g in given:  # every candidate compared in constant time
            ok |= hmac.compare_digest(g.encode("utf-8", "replace"), expected)
        return ok

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if not self._authorized(scope):
            return await _error(401, "missing or wrong access token: send 'Authorization: Bearer TOKEN'")(
                scope, receive, send)
        for key, value in scope.get("headers", []):
            if key.lower() == b"content-length":
                try:
                    too_big = int(value) > self.max_body
                except ValueError:
                    return await _error(400, "bad Content-Length")(scope, receive, send)
                if too_big:
                    return await _error(413, f"request body over {self.max_body} bytes")(scope, receive, send)
        seen = 0

        async def bounded() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise HTTPException(413, f"request body over {self.max_body} bytes")
            return message

        return await self.app(scope, bounded, send)


class _Stopped(Exception):
    """Raised inside a stream's token callback to end decoding (a stop string, a gone client)."""


class Server:
    """The state behind the routes: models, their batchers, pending rating items."""

    def __init__(self, models: dict[str, ServedModel], limits: Limits, ratings: str | None) -> None:
        self.models, self.limits = models, limits
        self.ratings = None if ratings is None else Path(ratings)
        self.batchers = {name: Batcher(m, limits) for name, m in models.items()}
        self.secret = secrets.token_bytes(32)
        self.pending: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        self.pending_lock = threading.Lock()

    # -- checks -------------------------------------------------------------------------
    def model(self, name: str) -> ServedModel:
        if name not in self.models:
            raise HTTPException(404, f"no model '{name}'; served: {', '.join(self.models)}")
        return self.models[name]

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        lim = self.limits
        for key, value in options.items():
            values = value.values() if isinstance(value, dict) else [value]
            for v in values:
                if isinstance(v, float) and not math.isfinite(v):
                    raise HTTPException(422, f"option {key} must be a finite number")
                if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) > lim.max_option_value:
                    raise HTTPException(422, f"option {key}={v} is out of range (|value| <= {lim.max_option_value:g})")
                if isinstance(v, str) and len(v) > 200:
                    raise HTTPException(422, f"option {key} is longer than 200 characters")
            if key == "knn_store":  # a path on the server: a client must not pick files to read
                raise HTTPException(422, "knn_store (a path on the server) cannot be set by a request")
            if key == "steps" and isinstance(value, int) and not 1 <= value <= lim.max_steps:
                raise HTTPException(422, f"steps must be 1 to {lim.max_steps}")
            if key == "max_new_tokens" and isinstance(value, int) and not 1 <= value <= lim.max_new_tokens:
                raise HTTPException(422, f"max_new_tokens must be 1 to {lim.max_new_tokens}")
            if key == "prompt" and isinstance(value, str) and len(value) > lim.max_prompt_chars:
                raise HTTPException(422, f"prompt is longer than {lim.max_prompt_chars} characters")
        return dict(options)

    def text_options(self, served: ServedModel, options: dict[str, Any], prompt: str | None,
                     max_new_tokens: int | None) -> dict[str, Any]:
        if prompt is not None or max_new_tokens is not None:
            if not served.streams:
                raise HTTPException(400, f"model '{served.name}' ({served.kind.name}) takes no prompt or "
                                         "max_new_tokens")
        if prompt is not None:
            options["prompt"] = prompt
        if max_new_tokens is not None:
            options["max_new_tokens"] = max_new_tokens
        return self.check_options(options)

    def cond(self, served: ServedModel, cond: Any, n: int) -> Any:
        if cond is None:
            return None
        from genloom.sampling import not_conditional_message

        if not served.conditional:
            raise HTTPException(400, not_conditional_message(served.model))
        labels = cond if isinstance(cond, list) else [cond]
        if not labels or len(labels) > self.limits.max_n:
            raise HTTPException(422, f"cond: give 1 to {self.limits.max_n} labels")
        known = served.labels
        bad = [v for v in labels if (known and v not in known) or v < 0]
        if bad:
            raise HTTPException(422, f"cond: label {bad[0]} is not one of 0..{len(known) - 1}")
        import torch

        return torch.tensor([labels[i % len(labels)] for i in range(n)])

    def seed(self, seed: int) -> int:
        if not 0 <= seed <= MAX_SEED:
            raise HTTPException(422, f"seed must be 0 to {MAX_SEED}")
        return seed

    # -- drawing ------------------------------------------------------------------------
    def draw(self, served: ServedModel, n: int, seed: int, cond: Any, sampler: str | None,
             options: dict[str, Any]) -> Any:
        if not 1 <= n <= self.limits.max_n:
            raise HTTPException(422, f"n must be 1 to {self.limits.max_n}")
        req = SampleRequest(n=n, seed=self.seed(seed), cond=self.cond(served, cond, n), sampler=sampler,
                            options=options)
        future = self.batchers[served.name].submit(req)
        try:
            return future.result(timeout=600)
        except (GenloomError, HTTPException):
            raise
        except (TypeError, ValueError, RuntimeError, IndexError, KeyError, OverflowError) as exc:
            log.warning("sampling %s failed", served.name, exc_info=True)
            raise HTTPException(422, f"the sampler failed with these options ({type(exc).__name__})") from None

    def record(self, served: ServedModel, n: int, seed: int, sampler: str | None, options: dict[str, Any],
               cond: Any, **extra: Any) -> dict[str, Any]:
        """The generation record ``genloom sample`` writes (:mod:`genloom.provenance`), with
        ``source: serve``; the checkpoint is named as given at start-up and its SHA-256 was
        hashed once at load, so ``genloom reproduce FILE --run RUN`` draws the file again."""
        from genloom.provenance import generation_record

        labels = None if cond is None else [int(v) for v in (cond if isinstance(cond, list) else [cond])]
        record = generation_record(served.model, checkpoint=None, n=n, seed=seed, sampler=sampler,
                                   options=options, cond=labels, source="serve", **extra)
        record.update(checkpoint=served.path, checkpoint_sha256=served.sha256 or None)
        return record

    def suffix(self, served: ServedModel, suffix: str | None) -> str:
        """The file type asked for (``?suffix=.wav``), one the kind writes; else its default."""
        if suffix is None:
            return served.kind.default_suffix
        allowed = (*served.kind.suffixes, ".npy")
        if suffix not in allowed:
            raise HTTPException(422, f"suffix must be one of {', '.join(allowed)} for {served.kind.name} samples")
        return suffix

    def render(self, served: ServedModel, samples: Any, record: dict[str, Any] | None = None,
               suffix: str | None = None) -> tuple[bytes, str, bool]:
        """The kind's own file for ``samples`` (as ``genloom sample`` writes it), its
        suffix, and whether ``record`` is embedded in it (PNG, ABC) rather than in the
        sidecar ``FILE.genloom.json`` genloom sample would write beside it."""
        from genloom.kinds import save_samples
        from genloom.provenance import sidecar_of

        suffix = suffix or served.kind.default_suffix
        with tempfile.TemporaryDirectory(prefix="genloom-serve-") as tmp:
            path = save_samples(samples, Path(tmp) / f"samples{suffix}", served.model.info, record)
            return path.read_bytes(), suffix, record is not None and not sidecar_of(path).exists()

    def item(self, served: ServedModel, samples: Any, record: dict[str, Any] | None = None,
             suffix: str | None = None) -> dict[str, Any]:
        data, suffix, embedded = self.render(served, samples, record, suffix)
        out = {"media_type": MEDIA.get(suffix) or mimetypes.guess_type("x" + suffix)[0] or
               "application/octet-stream", "suffix": suffix, "base64": base64.b64encode(data).decode("ascii")}
        if suffix in (".txt", ".abc"):
            out["text"] = data.decode("utf-8", "replace")
        if record is not None:
            out["record_embedded"] = embedded
        return out

    # -- rating items -------------------------------------------------------------------
    def remember(self, entry: dict[str, Any]) -> str:
        key = secrets.token_urlsafe(12)
        with self.pending_lock:
            self.pending[key] = entry
            while len(self.pending) > self.limits.max_pending:
                self.pending.popitem(last=False)
        return key

    def recall(self, key: str, kind: str, session: str) -> dict[str, Any]:
        with self.pending_lock:
            entry = self.pending.get(key)
            if entry is None or entry["type"] != kind or entry["session"] != session:
                raise HTTPException(404, "unknown or already rated item; ask for a new one")
            return self.pending.pop(key)

    def csrf(self, session: str) -> str:
        return hmac.new(self.secret, session.encode("utf-8"), hashlib.sha256).hexdigest()

    def check_csrf(self, request: Request) -> str:
        session = request.cookies.get("genloom_session", "")
        given = request.headers.get("x-csrf-token", "")
        if not session or not hmac.compare_digest(given.encode("utf-8", "replace"),
                                                  self.csrf(session).encode("ascii")):
            raise HTTPException(403, "missing or wrong CSRF token: rate from the page served at /")
        if self.ratings is None:
            raise HTTPException(409, "ratings are off: start the server with --ratings FILE")
        return session


def _continuation(text: str, prompt: str) -> str:
    text = text[:-1] if text.endswith("\n") else text
    return text[len(prompt):] if prompt and text.startswith(prompt) else text


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


def create_app(models: list[str] | dict[str, ServedModel], *, token: str | None = None,
               ratings: str | Path | None = None, limits: Limits | None = None) -> FastAPI:
    """The application serving ``models`` (run paths, loaded once here, or loaded models)."""
    from genloom_serve.page import render_page

    limits = limits or Limits()
    served = load_models(list(models)) if not isinstance(models, dict) else models
    state = Server(served, limits, None if ratings is None else str(ratings))

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        for batcher in state.batchers.values():
            batcher.stop()

    app = FastAPI(title="genloom serve", version="0.1.0", lifespan=lifespan,
                  description="Samples, streams and human ratings of trained genloom models (docs/serving.md).")
    app.state.server = state

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
        return _error(422, f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(GenloomError)
    async def _genloom(request: Request, exc: GenloomError) -> JSONResponse:
        return _error(400, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("internal error on %s", request.url.path, exc_info=exc)
        return _error(500, "internal error (see the server's log)")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page(request: Request) -> HTMLResponse:
        session = request.cookies.get("genloom_session") or secrets.token_urlsafe(16)
        html = render_page([m.describe() for m in served.values()], state.csrf(session),
                           ratings=state.ratings is not None)
        response = HTMLResponse(html)
        response.set_cookie("genloom_session", session, httponly=True, samesite="strict")
        if token and request.query_params.get("token"):  # the page's later requests carry it
            response.set_cookie("genloom_token", request.query_params["token"], httponly=True, samesite="strict")
        return response

    @app.get("/v1/models", summary="The served models: family, sample kind, labels, samplers and options")
    def list_models() -> dict[str, Any]:
        return {"models": [m.describe() for m in served.values()]}

    @app.get("/v1/models/{name}", summary="One served model")
    def get_model(name: str) -> dict[str, Any]:
        return state.model(name).describe()

    @app.post("/v1/models/{name}/samples",
              summary="Draw samples: JSON with the kind's file base64-encoded, or ?format=file for the file")
    def samples(name: str, body: SampleBody, format: str = "json", suffix: str | None = None) -> Any:
        if format not in ("json", "file"):
            raise HTTPException(422, "format must be json or file")
        model = state.model(name)
        suffix = state.suffix(model, suffix)
        if body.prompt is not None and len(body.prompt) > limits.max_prompt_chars:
            raise HTTPException(422, f"prompt is longer than {limits.max_prompt_chars} characters")
        options = state.text_options(model, dict(body.options), body.prompt, body.max_new_tokens)
        n = model.kind.default_n if body.n is None else body.n
        drawn = state.draw(model, n, body.seed, body.cond, body.sampler, options)
        record = state.record(model, n, body.seed, body.sampler, options, body.cond)
        if format == "file":
            data, suffix, _ = state.render(model, drawn, record, suffix)
            return Response(data, media_type=MEDIA.get(suffix, "application/octet-stream"),
                            headers={"Content-Disposition": f'inline; filename="{name}-seed{body.seed}{suffix}"'})
        return {"model": name, "checkpoint": model.checkpoint, "n": n, "seed": body.seed,
                "kind": model.kind.name, "file": state.item(model, drawn, record, suffix), "record": record}

    @app.post("/v1/models/{name}/interpolate",
              summary="A latent model's walk between seeded latents: one PNG strip per pair of seeds, "
                      "the frames in order (genloom interpolate)")
    def interpolate(name: str, body: InterpolateBody, format: str = "json") -> Any:
        if format not in ("json", "file"):
            raise HTTPException(422, "format must be json or file")
        model = state.model(name)
        if not model.interpolates:
            raise HTTPException(400, f"model '{name}' has no latent space to walk; interpolation works with "
                                     "latent-variable models (VAE, GAN)")
        if not 2 <= len(body.seeds) <= 8:
            raise HTTPException(422, "seeds: give 2 to 8 seeds")
        for seed in body.seeds:
            state.seed(seed)
        if not 2 <= body.steps <= 32:
            raise HTTPException(422, "steps must be 2 to 32")
        if body.method not in ("slerp", "lerp"):
            raise HTTPException(422, "method must be slerp or lerp")
        cond = body.cond if body.cond is not None or not model.conditional else 0
        if cond is not None:
            state.cond(model, cond, 1)  # the label checks of /samples
        from genloom_eval.interpolation import interpolate as walk

        with model.lock:
            drawn = walk(model.model, body.seeds, steps=body.steps, method=body.method, cond=cond)
        drawn.extras.pop("latents", None)
        n = len(drawn.data)
        record = state.record(model, n, body.seeds[0], "interpolation", {}, cond,
                              interpolation={"seeds": body.seeds, "steps": body.steps, "method": body.method})
        if format == "file":
            data, suffix, _ = state.render(model, drawn, record)
            return Response(data, media_type=MEDIA.get(suffix, "application/octet-stream"))
        frames = [state.item(model, drawn.__class__(data=drawn.data[i:i + 1], kind=drawn.kind))
                  for i in range(n)]
        return {"model": name, "seeds": body.seeds, "steps": body.steps, "method": body.method, "cond": cond,
                "file": state.item(model, drawn, record), "frames": frames, "record": record}

    @app.post("/v1/models/{name}/stream",
              summary="Server-sent events of a text model's output as it is decoded")
    def stream(name: str, body: StreamBody) -> StreamingResponse:
        from genloom.sampling import _check_options, default_sampler_of, get_sampler

        model = state.model(name)
        if not model.streams:
            raise HTTPException(400, f"model '{name}' ({model.kind.name}) does not stream; "
                                     "use POST /v1/models/{name}/samples")
        if len(body.prompt) > limits.max_prompt_chars:
            raise HTTPException(422, f"prompt is longer than {limits.max_prompt_chars} characters")
        if len(body.stop) > limits.max_stop_strings or any(not s or len(s) > 100 for s in body.stop):
            raise HTTPException(422, f"stop: at most {limits.max_stop_strings} non-empty strings of "
                                     "at most 100 characters")
        options = state.text_options(model, dict(body.options), body.prompt, body.max_new_tokens)
        state.seed(body.seed)
        chosen = get_sampler(body.sampler) if body.sampler else default_sampler_of(model.model)
        chosen.check(model.model)
        _check_options(chosen, options)
        import inspect

        if "on_token" not in inspect.signature(chosen.sample).parameters:
            raise HTTPException(400, f"sampler {type(chosen).__name__} cannot stream; use /samples")
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        cancel = threading.Event()
        stops, hold = list(body.stop), max((len(s) for s in body.stop), default=1) - 1

        def work() -> None:
            seen = {"first": True, "pending": ""}

            def emit(chunk: str) -> None:
                if cancel.is_set():
                    raise _Stopped()
                if seen["first"]:  # the prompt, as the model reads it
                    seen["first"] = False
                    events.put(("text", chunk))
                    return
                pending = seen["pending"] + chunk
                hits = [pending.find(s) for s in stops if s in pending]
                if hits:
                    if pending[: min(hits)]:
                        events.put(("text", pending[: min(hits)]))
                    raise _Stopped("stop")
                cut = len(pending) - hold if hold else len(pending)
                if cut > 0:
                    events.put(("text", pending[:cut]))
                seen["pending"] = pending[max(cut, 0):]

            reason = "length"
            try:
                with model.lock:
                    model.kind.draw(model.model, 1, sampler=body.sampler, seed=body.seed,
                                    options=options, stream=emit)
                if seen["pending"]:
                    events.put(("text", seen["pending"]))
            except _Stopped as stop:
                reason = "stop" if stop.args else "cancelled"
            except GenloomError as exc:
                events.put(("error", str(exc).splitlines()[0]))
                return
            except Exception:  # noqa: BLE001 - logged; the client gets one line
                log.error("stream %s failed", name, exc_info=True)
                events.put(("error", "internal error (see the server's log)"))
                return
            events.put(("done", {"finish_reason": reason, "seed": body.seed, "model": name,
                                 "checkpoint": model.checkpoint,
                                 "record": state.record(model, 1, body.seed, body.sampler, options, None)}))

        def sse() -> Iterator[str]:
            thread = threading.Thread(target=work, name=f"stream-{name}", daemon=True)
            thread.start()
            try:
                while True:
                    kind, value = events.get()
                    if kind == "text":
                        yield f"data: {json.dumps({'text': value})}\n\n"
                    elif kind == "error":
                        yield f"event: error\ndata: {json.dumps({'error': value})}\n\n"
                        return
                    elif kind == "done":
                        yield f"event: done\ndata: {json.dumps(value)}\n\n"
                        return
                    else:
                        return
            finally:
                cancel.set()

        return StreamingResponse(sse(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/v1/stats", summary="Batching counters per model: forward passes, requests, largest batch")
    def stats() -> dict[str, Any]:
        return {name: {"passes": b.passes, "requests": b.requests, "largest_batch": b.largest}
                for name, b in state.batchers.items()}

    @app.post("/v1/rate/pair/new", summary="Two samples to compare (needs the page's CSRF token)")
    def pair_new(request: Request, body: PairBody) -> dict[str, Any]:
        session = state.check_csrf(request)
        if not 1 <= len(body.models) <= 2:
            raise HTTPException(422, "models: give one model (two seeds) or two models")
        chosen = [state.model(m) for m in body.models]
        if len(chosen) == 2 and chosen[0].kind.name != chosen[1].kind.name:
            raise HTTPException(422, "models: the two models must make the same kind of samples")
        seeds = [secrets.randbelow(2**31)]
        seeds.append(secrets.randbelow(2**31) if len(chosen) == 1 else seeds[0])
        while len(chosen) == 1 and seeds[1] == seeds[0]:
            seeds[1] = secrets.randbelow(2**31)
        chosen = chosen * (3 - len(chosen))
        cond = body.cond
        if cond is None and chosen[0].conditional and chosen[1].conditional and chosen[0].labels:
            cond = secrets.choice(chosen[0].labels)  # one label for both sides, as the real-or-generated item
        sides = []
        for served_model, seed in zip(chosen, seeds):
            prompt = body.prompt if served_model.streams else None
            if body.prompt is not None and len(body.prompt) > limits.max_prompt_chars:
                raise HTTPException(422, f"prompt is longer than {limits.max_prompt_chars} characters")
            options = state.text_options(served_model, {}, prompt,
                                         body.max_new_tokens if served_model.streams else None)
            drawn = state.draw(served_model, 1, seed, cond, None, options)
            item = state.item(served_model, drawn)
            sides.append({"model": served_model.name, "checkpoint": served_model.checkpoint, "seed": seed,
                          "options": options, "cond": cond, "item": item})
        if secrets.randbelow(2):
            sides.reverse()
        key = state.remember({"type": "pair", "session": session, "sides": sides,
                              "prompt": body.prompt if chosen[0].streams else None,
                              "text": chosen[0].streams})
        return {"id": key, "a": sides[0]["item"], "b": sides[1]["item"]}

    @app.post("/v1/rate/pair", summary="Record A, B or tie for a pair (needs the CSRF token)")
    def pair_rate(request: Request, body: PairChoice) -> dict[str, Any]:
        session = state.check_csrf(request)
        if body.choice not in ("A", "B", "tie"):
            raise HTTPException(422, "choice must be A, B or tie")
        entry = state.recall(body.id, "pair", session)
        a, b = ({k: v for k, v in s.items() if k != "item"} for s in entry["sides"])
        record: dict[str, Any] = {"type": "pairwise", "time": _now(), "choice": body.choice, "a": a, "b": b,
                                  "winner": {"A": a["model"], "B": b["model"]}.get(body.choice)}
        if entry["text"]:
            prompt = entry["prompt"] or ""
            texts = [_continuation(s["item"]["text"], prompt) for s in entry["sides"]]
            a["text"], b["text"] = texts
            if body.choice != "tie":
                win = 0 if body.choice == "A" else 1
                pair = {"prompt": prompt, "chosen": texts[win], "rejected": texts[1 - win]}
                record.update(pair)
                append_record(pairs_path(state.ratings), {**pair, "time": record["time"],
                                                          "models": [a["model"], b["model"]]})
        append_record(state.ratings, record)
        return {"recorded": True}

    @app.post("/v1/rate/real/new", summary="One item, held-out data or a sample, at random")
    def real_new(request: Request, body: RealBody) -> dict[str, Any]:
        session = state.check_csrf(request)
        served_model = state.model(body.model)
        from genloom.interfaces import Samples

        entry: dict[str, Any] = {"type": "real", "session": session, "model": served_model.name,
                                 "checkpoint": served_model.checkpoint}
        if secrets.randbelow(2):
            data = served_model.held_out()
            index = secrets.randbelow(len(data))
            drawn = Samples(data=data[index: index + 1], kind=served_model.kind.name)
            entry.update(source="real", index=index)
        else:
            seed = secrets.randbelow(2**31)
            cond = secrets.choice(served_model.labels) if served_model.labels else None
            drawn = state.draw(served_model, 1, seed, cond, None, {})
            entry.update(source="generated", seed=seed, cond=cond)
        return {"id": state.remember(entry), "item": state.item(served_model, drawn)}

    @app.post("/v1/rate/real", summary="Record whether the person took an item for real or generated")
    def real_rate(request: Request, body: RealAnswer) -> dict[str, Any]:
        session = state.check_csrf(request)
        if body.answer not in ("real", "generated"):
            raise HTTPException(422, "answer must be real or generated")
        entry = state.recall(body.id, "real", session)
        record = {k: v for k, v in entry.items() if k not in ("type", "session")}
        record.update(type="real_or_generated", time=_now(), answer=body.answer,
                      correct=body.answer == entry["source"])
        append_record(state.ratings, record)
        return {"recorded": True}

    app.add_middleware(Guard, token=token, max_body=limits.max_body_bytes)
    return app
