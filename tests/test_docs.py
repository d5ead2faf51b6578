"""The docs are code: every command and Python block in the Markdown runs, and shown output is real.

The convention is in ``tests/docs_blocks.py`` and CONTRIBUTING.md ("Docs"). Each
Markdown file's runnable blocks run in order in one scratch folder, so a ``genloom
sample runs/x`` block finds the run an earlier ``genloom train`` block made there;
``genloom train`` gets tiny overrides (``docs_blocks.TINY_TRAIN``) appended by a shim
on the blocks' PATH. Files whose blocks train several models (music, metrics, the
example plugins) run in the slow tier.
"""

from __future__ import annotations

import sys
import time

import pytest

from docs_blocks import ROOT, doc_files, make_workspace, normalize, parse, run_block, shown, steps

# Files whose blocks take more than a few seconds in all: they run under `make test-slow`.
# `make test` keeps the front page, the quickstart, the CLI and configuration references
# (their shown output included), the hooks and one plugin README.
SLOW = {
    "docs/music.md", "docs/metrics.md", "docs/diffusion.md", "docs/text.md",
    "examples/ebm-plugin/README.md", "examples/flow-plugin/README.md",
    "examples/vqvae-plugin/README.md", "plugins/music/README.md",
    "plugins/diffusion/README.md", "plugins/gan/README.md", "plugins/rnn/README.md",
    "plugins/transformer/README.md", "docs/scaling.md", "docs/alignment.md",
    "plugins/align/README.md", "docs/data.md", "plugins/t2i/README.md", "docs/text-to-image.md",
    "docs/pretrained.md",
}

FILES = doc_files()


def _rel(path) -> str:
    return str(path.relative_to(ROOT))


def _params():
    for f in FILES:
        if not steps(f):
            continue
        marks = [pytest.mark.slow] if _rel(f) in SLOW else []
        yield pytest.param(f, id=_rel(f), marks=marks)


def test_the_harness_sees_every_doc_file():
    names = {_rel(f) for f in FILES}
    assert {"README.md", "CONTRIBUTING.md", "docs/cli.md", "plugins/vae/README.md",
            "examples/flow-plugin/README.md"} <= names
    assert SLOW <= names  # a renamed file must leave the slow list too


def test_no_block_looks_like_an_untested_command():
    """An untagged or ``text`` block that starts like a command must be tagged ``bash``."""
    offenders = [b.where for f in FILES for b in parse(f) if b.looks_like_command]
    assert offenders == []


def test_runnable_blocks_are_tagged_bash_or_python():
    """Untagged blocks are output; commands carry a tag. Unknown tags are a typo."""
    known = {"", "text", "bash", "python", "yaml", "toml"}
    assert [b.where for f in FILES for b in parse(f) if b.tag not in known] == []


def test_block_classification(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text(
        "```bash\ngenloom list\n```\n\n"
        "```bash\n# not runnable: installs from the index\npip install genloom\n```\n\n"
        "```\ngenloom train a.yaml\n```\n\n"
        "<!-- output: genloom list models -->\n```text\n$ genloom list models\nvae\n```\n\n"
        "```text\n$ genloom plugins\n```\n\n"
        "<!-- illustrative: a benchmark's table -->\n```text\ngenloom   586 tokens/s\n```\n\n"
        "```bash\n# exit status: 2\ngenloom train nope.yaml\n```\n"
    )
    blocks = parse(doc)
    assert [b.runnable for b in blocks] == [True, False, False, False, False, False, True]
    assert [b.looks_like_command for b in blocks] == [False, False, True, False, True, False, False]
    assert [b.expected_status for b in blocks] == [0, 0, 0, 0, 0, 0, 2]
    assert blocks[3].output_of == "genloom list models"
    assert [b.line for b in steps(doc)] == [1, 15, 29]
    assert blocks[3].commands == ["genloom list models"]


def test_a_python_block_may_start_with_a_future_import(tmp_path):
    """The prelude the harness puts before a python block cannot push the block's own
    ``from __future__`` imports out of first place (a SyntaxError, so such blocks were
    marked "not runnable")."""
    doc = tmp_path / "x.md"
    doc.write_text('```python\n"""A module."""\n\nfrom __future__ import annotations\n\n'
                   'def f(x: NotDefinedAnywhere) -> None: ...\nprint("ran")\n```\n')
    work = tmp_path / "work"
    work.mkdir()
    out = run_block(parse(doc)[0], work, make_workspace(work))
    assert out.returncode == 0 and out.output.strip() == "ran", out.output


@pytest.mark.parametrize("doc", list(_params()))
def test_doc_blocks_run_and_shown_output_matches(doc, tmp_path):
    """Run every runnable block of ``doc``; compare every output-marked block with a fresh run."""
    env = make_workspace(tmp_path)
    failures = []
    started = time.perf_counter()
    for block in steps(doc):
        t0 = time.perf_counter()
        out = run_block(block, tmp_path, env)
        print(f"{block.where}: {time.perf_counter() - t0:.1f}s")
        if block.output_of is not None and block.tag in ("", "text"):
            want = normalize(block.text)
            got = normalize(shown(block, out.outputs), tmp_path)
            if want != got:
                failures.append(
                    f"{block.where}: shown output of `{block.output_of}` is stale; "
                    f"run scripts/regen_docs.py {_rel(doc)}\n--- shown\n{want}\n--- now\n{got}"
                )
        elif out.returncode != block.expected_status:
            failures.append(
                f"{block.where}: exit {out.returncode}, expected {block.expected_status}\n"
                f"{out.output[-3000:]}"
            )
    print(f"{_rel(doc)}: {time.perf_counter() - started:.1f}s")
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


def test_normalize_masks_timings_and_scratch_paths(tmp_path):
    text = f"vae  0.1.0  ok   12.5ms  model:vae\nwrote {tmp_path}/runs/x in 3.2 s  \n"
    assert normalize(text, tmp_path) == "vae  0.1.0  ok Nms  model:vae\nwrote ./runs/x in N s"
    assert normalize("ok    0.8ms  x") == normalize("ok   12.4ms  x")  # column padding


def test_regen_rewrites_a_stale_output_block_and_nothing_else(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    import regen_docs

    doc = tmp_path / "x.md"
    doc.write_text(
        "Intro.\n\n<!-- output: genloom --version -->\n```text\n$ genloom --version\nstale\n```\n\n"
        "```text\nuntouched\n```\n"
    )
    text, changed = regen_docs.regenerate(doc)
    assert changed == [f"{doc}:4"]
    assert text == (
        "Intro.\n\n<!-- output: genloom --version -->\n```text\n$ genloom --version\n"
        "genloom, version 0.1.0\n```\n\n```text\nuntouched\n```\n"
    )
