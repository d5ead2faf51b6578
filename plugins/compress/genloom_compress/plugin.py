"""Entry point of the compress library: the ``int8`` quantizer, declared as data, and
the ``genloom prune`` command.

genloom reads the table without importing this module's code paths (no torch here):
the quantizer's class is imported only when ``genloom export --quantize int8`` or an
int8 export asks for it.
"""

from __future__ import annotations

import json

import click

from genloom import hookimpl
from genloom.errors import GenloomError

GENLOOM_COMPONENTS = {
    "quantizer:int8": ("genloom_compress.quantize:Int8",
        "int8 weights per output row for untied nn.Linear layers "
        "(genloom export --quantize int8); int8 matrix products on CPU"),
}


@hookimpl
def genloom_register_commands(cli: click.Group) -> None:
    @cli.command()
    @click.argument("checkpoint", type=click.Path())
    @click.argument("out_dir", type=click.Path(file_okay=False))
    @click.option("--method", type=click.Choice(["magnitude", "2:4", "rows"]), default="magnitude",
                  show_default=True, help="Unstructured by magnitude, N:M 2-of-4, or whole output rows.")
    @click.option("--sparsity", type=float, default=0.5, show_default=True,
                  help="Fraction of each linear layer's weights (rows, for --method rows) set to 0; 2:4 is 0.5.")
    @click.option("--force", is_flag=True, help="Replace an existing export in OUT_DIR.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def prune(checkpoint: str, out_dir: str, method: str, sparsity: float, force: bool, as_json: bool) -> None:
        """Zero the smallest weights of CHECKPOINT's linear layers and write an export.

        \b
        OUT_DIR loads and samples like any export; quantise it after with
        genloom export OUT_DIR OUT8 --quantize int8. docs/trust.md has the numbers.
          genloom prune runs/transformer-pydoc pruned --sparsity 0.5
          genloom prune runs/transformer-pydoc pruned24 --method 2:4 --json
        """
        from genloom_compress.prune import prune_checkpoint

        out, done = prune_checkpoint(checkpoint, out_dir, method, sparsity, force=force)
        if as_json:
            click.echo(json.dumps({"export": str(out), "method": method, "layers": done}, indent=2))
            return
        mean = sum(done.values()) / len(done)
        click.echo(f"pruned {len(done)} layers ({method}, mean sparsity {mean:.3f}) to {out}")
