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
