"""Which attention training gets, and what follows from the one the model loaded with."""

from __future__ import annotations

import logging

import pytest

from wizardcoder.train import model as M


@pytest.fixture
def broken_flash_attn(tmp_path, monkeypatch):
    """An installed flash-attn wheel built for another torch: found, but its import fails."""
    site = tmp_path / "site"
    (site / "flash_attn").mkdir(parents=True)
    (site / "flash_attn" / "__init__.py").write_text(
        'raise ImportError("flash_attn_2_cuda.cpython-311-x86_64-linux-gnu.so: undefined symbol: '
        '_ZN3c104cuda9SetDeviceEa")\n')
    (site / "flash_attn-2.8.3.dist-info").mkdir()
    (site / "flash_attn-2.8.3.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: flash_attn\n"
                                                                   "Version: 2.8.3\n")
    monkeypatch.syspath_prepend(str(site))
    yield
    import sys

    sys.modules.pop("flash_attn", None)


def test_auto_attention_falls_back_to_sdpa_when_flash_attn_does_not_import(broken_flash_attn, caplog):
    with caplog.at_level(logging.WARNING, logger="wizardcoder"):
        assert M.resolve_attn("auto", "cuda") == "sdpa"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "undefined symbol" in warnings[0] and "attn_implementation=sdpa" in warnings[0]
    assert M.resolve_attn("auto", "cpu") == "sdpa"


def test_a_flash_kernel_that_fails_at_model_init_falls_back(broken_flash_attn, tiny_model_dir, caplog):
    """transformers imports the flash kernel when it builds the model (to allow compiling): on a GPU a broken
    wheel fails there, as this build does; sdpa is used instead, with a warning."""
    from transformers import AutoModelForCausalLM

    def build(impl):
        if impl.startswith("flash"):
            import flash_attn  # noqa: F401 - what transformers' lazy_import_flash_attention does at init
        return AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), attn_implementation=impl)

    with caplog.at_level(logging.WARNING, logger="wizardcoder"):
        model = M.with_attention_fallback("flash_attention_2", build)
    assert model.config._attn_implementation == "sdpa"
    assert "undefined symbol" in caplog.text

    def no_such_file(impl):  # other errors are not about attention: raised as they are
        raise OSError("no file named model.safetensors")

    with pytest.raises(OSError, match="model.safetensors"):
        M.with_attention_fallback("sdpa", no_such_file)


def test_flash_kernels_are_known_by_any_name():
    assert M.is_flash("flash_attention_2") and M.is_flash("kernels-community/flash-attn3")
    assert not M.is_flash("sdpa") and not M.is_flash("flex_attention") and not M.is_flash("eager")


@pytest.mark.slow
def test_rows_follow_the_attention_the_model_loaded_with(tiny_model_dir, data_jsonl, tmp_path, monkeypatch):
    """flash asked on a CPU: the model loads with sdpa, so a micro-batch stays 4 rows (flattened into one row, sdpa
    would attend over it with a dense (4 x length)^2 mask)."""
    import json

    from wizardcoder.config import load_config
    from wizardcoder.train import TrainConfig, train

    shapes, load = [], M.load_model

    def load_and_watch(*args, **kwargs):
        model = load(*args, **kwargs)
        model.model.register_forward_pre_hook(lambda m, a, kw: shapes.append(tuple(kw["input_ids"].shape)),
                                              with_kwargs=True)
        return model

    monkeypatch.setattr(M, "load_model", load_and_watch)
    cfg = load_config(TrainConfig, None, [
        f"model.path={tiny_model_dir}", f"data.path={data_jsonl}", f"run.output={tmp_path}", "run.device=cpu",
        "model.attn_implementation=flash_attention_2", "data.max_seq_len=256", "train.batch_size=4",
        "train.max_steps=1", "run.tensorboard=false", "data.eval_fraction=0", "run.save_steps=0",
        "train.gradient_checkpointing=false"])
    stats = json.loads((train(cfg) / "stats.json").read_text())
    assert stats["attn_implementation"] == "sdpa" and stats["packing"] is True
    assert shapes and all(rows == 4 for rows, _ in shapes), shapes


# ------------------------------------------------------------------- flash kernels: boundaries, no detection


@pytest.fixture
def cpu_flash(monkeypatch):
    """transformers' real flash-attention path on a CPU: a torch-written flash_attn_interface (cpu_flash/), and
    a spy on transformers' search for packed sequences in the position ids (a device sync in every layer)."""
    from pathlib import Path

    import transformers.modeling_flash_attention_utils as fa

    monkeypatch.syspath_prepend(str(Path(__file__).with_name("cpu_flash")))
    import flash_attn_interface

    flash_attn_interface.VARLEN_CALLS.clear()
    detections, real = [], fa._is_packed_sequence
    monkeypatch.setattr(fa, "_is_packed_sequence", lambda *a: detections.append(1) or real(*a))
    return flash_attn_interface.VARLEN_CALLS, detections


def _as_flash(model):
    """Switch a loaded model to flash_attention_3 (loading with it checks for CUDA)."""
    model.config._attn_implementation = "flash_attention_3"
    return model


def test_flattened_rows_reach_the_flash_kernel_with_their_boundaries(tiny_model_dir, cpu_flash):
    from transformers import AutoModelForCausalLM

    from wizardcoder.train import data as D
    from wizardcoder.train.loss import ResponseLoss

    varlen, detections = cpu_flash
    torch = pytest.importorskip("torch")
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), attn_implementation="sdpa")
    g = torch.Generator().manual_seed(0)
    exs = [D.Example(torch.randint(3, 300, (n,), generator=g).tolist(), 3) for n in (17, 9, 23)]
    rows = [[exs[0], exs[1]], [exs[2]]]
    with torch.no_grad():
        ref_sum, ref_n = ResponseLoss(model.eval())(**D.Collator(pad_id=2, loss_index=True)(rows))  # sdpa, 2 rows
    batch = D.Collator(pad_id=2, flatten=True, loss_index=True)(rows)
    assert batch["input_ids"].shape == (1, 49) and batch["cu_seq_lens_q"].tolist() == [0, 17, 26, 49]
    assert batch["max_length_q"] == batch["max_length_k"] == 23 and batch["cu_seq_lens_q"].dtype == torch.int32
    model = _as_flash(model).train()
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    loss_sum, n = ResponseLoss(model)(**batch)
    loss_sum.backward()  # the checkpointed layers run again: the boundaries must reach the kernel there too
    assert n == ref_n and loss_sum.item() == pytest.approx(ref_sum.item(), rel=1e-5)
    layers = model.config.num_hidden_layers
    assert len(varlen) == 2 * layers  # forward + recompute
    assert all(c["cu_seqlens_q"].tolist() == [0, 17, 26, 49] and c["max_seqlen_q"] == 23 for c in varlen)
    assert detections == []


@pytest.mark.slow
def test_training_on_a_flash_kernel_packs_as_exactly_as_sdpa(tiny_model_dir, data_jsonl, tmp_path, cpu_flash,
                                                             monkeypatch):
    """The trainer flattens for the flash kernel the model has, the prefetched micro-batches carry their
    boundaries to it, and the losses are those of sdpa's packed rows."""
    import json

    from wizardcoder.config import load_config
    from wizardcoder.train import TrainConfig, train

    varlen, detections = cpu_flash

    def run(out, flash: bool):
        load = M.load_model
        if flash:
            monkeypatch.setattr(M, "load_model", lambda *a, **k: _as_flash(load(*a, **k)))
        try:
            run_dir = train(load_config(TrainConfig, None, [
                f"model.path={tiny_model_dir}", f"data.path={data_jsonl}", f"run.output={out}", "run.device=cpu",
                "data.max_seq_len=256", "train.batch_size=4", "train.max_steps=2", "run.tensorboard=false",
                "data.eval_fraction=0", "run.save_steps=0", "lora.dropout=0", "run.logging_steps=1"]))
        finally:
            monkeypatch.setattr(M, "load_model", load)
        metrics = json.loads((run_dir / "train_metrics.json").read_text())
        return [h["loss"] for h in metrics["history"]], json.loads((run_dir / "stats.json").read_text())

    sdpa_losses, _ = run(tmp_path / "sdpa", flash=False)
    flash_losses, stats = run(tmp_path / "flash", flash=True)
    assert stats["attn_implementation"] == "flash_attention_3" and stats["packing"] is True
    assert varlen and all(c["cu_seqlens_q"].numel() > 2 for c in varlen)  # several examples per flattened row
    assert detections == []
    assert flash_losses == pytest.approx(sdpa_losses, rel=1e-4)
