"""Training throughput (tokens/s) and MFU of full SFT for a Qwen2.5-VL shape, random weights.

The model is built from a config in this file (Qwen2.5-VL 3B and 7B shapes, or the tiny test
shape), never downloaded.  Each step is a real SFT step on one device: forward with labels,
backward, AdamW update, on `--batch-size` sequences of `--seq-len` random text tokens (a
packed-length SFT batch; the vision tower is not exercised and not counted).

MFU = achieved model FLOP/s / peak FLOP/s, with the usual (PaLM / nanoGPT) count of
6 * N + 12 * L * d * S training FLOPs per token: N the language model's matmul parameters
(embedding lookup excluded, LM head included), L layers, d hidden size, S sequence length;
causal masking is not discounted and gradient-checkpointing recompute is not counted (so
checkpointing lowers MFU by design).  Peak: the bf16 dense tensor-core peak of the GPU
(H100/H200 SXM 989 TFLOP/s, `--peak-tflops` to override); on the CPU there is no datasheet
number, so the peak is a measured fp32 matmul rate and the MFU is relative to it.

    # CPU smoke (the figure recorded in docs/train.md)
    .venv/bin/python benchmarks/bench_train.py --shape tiny --seq-len 512 --steps 5
    # one H100: the 3B shape at 8k tokens, every speed option that is installed
    python benchmarks/bench_train.py --shape 3b --seq-len 8192 --sweep --json bench_train_h100.json
    # one configuration
    python benchmarks/bench_train.py --shape 3b --seq-len 8192 --attn flash_attention_2 --liger

Target (issue 6): MFU >= 45% for the 3B shape at 8k tokens on one H100.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import itertools
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass

# Qwen2.5-VL shapes (the published config.json files of Qwen/Qwen2.5-VL-{3B,7B}-Instruct).
_VISION = {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16, "patch_size": 14,
           "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 112,
           "fullatt_block_indexes": [7, 15, 23, 31], "in_channels": 3}
_TOKENS = {"image_token_id": 151655, "video_token_id": 151656, "vision_start_token_id": 151652,
           "vision_end_token_id": 151653, "bos_token_id": 151643, "eos_token_id": 151645}
SHAPES = {
    "3b": {"text": {"vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 11008, "num_hidden_layers": 36,
                    "num_attention_heads": 16, "num_key_value_heads": 2, "tie_word_embeddings": True},
           "vision": {**_VISION, "out_hidden_size": 2048}, "tokens": _TOKENS},
    "7b": {"text": {"vocab_size": 152064, "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
                    "num_attention_heads": 28, "num_key_value_heads": 4, "tie_word_embeddings": False},
           "vision": {**_VISION, "out_hidden_size": 3584}, "tokens": _TOKENS},
    # spinemed.models.tiny's shape (2 layers, hidden 64): CPU smoke runs
    "tiny": {"text": {"vocab_size": 400, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                      "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": True},
             "vision": {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64,
                        "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 56,
                        "fullatt_block_indexes": [1], "in_channels": 3},
             "tokens": {"image_token_id": 395, "video_token_id": 396, "vision_start_token_id": 393,
                        "vision_end_token_id": 394, "bos_token_id": 390, "eos_token_id": 392}},
}
# bf16 dense tensor-core peaks (TFLOP/s) by device-name substring, most specific first.
GPU_PEAKS = [("H200", 989.4), ("H100 PCIe", 756.0), ("H100", 989.4), ("GH200", 989.4), ("B200", 2250.0),
             ("A100", 312.0), ("L40S", 362.1), ("A10G", 125.0), ("L4", 121.0)]
ATTN = ("sdpa", "eager", "flash_attention_2", "flash_attention_3")


@dataclass
class Result:
    shape: str
    device: str
    attn: str
    liger: bool
    grad_ckpt: bool
    dtype: str
    seq_len: int
    batch_size: int
    steps: int
    params_b: float
    tokens_per_s: float
    step_s: float
    tflops: float
    peak_tflops: float
    peak_source: str
    mfu: float
    peak_mem_gb: float | None
    loss_first: float
    loss_last: float


def build_config(shape: str, rope_max: int):
    from transformers import Qwen2_5_VLConfig

    s = SHAPES[shape]
    head_dim = s["text"]["hidden_size"] // s["text"]["num_attention_heads"]
    section = [head_dim // 8, head_dim * 3 // 16, head_dim * 3 // 16]  # Qwen's [16, 24, 24] at head_dim 128
    text = {**s["text"], "max_position_embeddings": max(rope_max, 4096), "rope_theta": 1_000_000.0,
            "rope_scaling": {"type": "mrope", "mrope_section": section},
            "bos_token_id": s["tokens"]["bos_token_id"], "eos_token_id": s["tokens"]["eos_token_id"]}
    return Qwen2_5_VLConfig(text_config=text, vision_config=s["vision"], **s["tokens"])


def flops_per_token(config, seq_len: int) -> tuple[float, float]:
    """(training FLOPs per token, language-model matmul parameters N)."""
    t = config.text_config
    d, L, ff, v = t.hidden_size, t.num_hidden_layers, t.intermediate_size, t.vocab_size
    head_dim = d // t.num_attention_heads
    kv = t.num_key_value_heads * head_dim
    per_layer = d * d + 2 * d * kv + d * d + 3 * d * ff  # q, k, v, o projections + SwiGLU MLP
    n = L * per_layer + d * v  # + LM head
    return 6 * n + 12 * L * d * seq_len, n


def measured_cpu_peak(n: int = 2048, reps: int = 5) -> float:
    """fp32 GEMM rate of this CPU (TFLOP/s), the best of `reps`."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e12


def gpu_peak(name: str) -> float | None:
    return next((p for key, p in GPU_PEAKS if key in name), None)


def available(attn: str, liger: bool) -> str | None:
    """Why a configuration cannot run here (None when it can)."""
    import torch

    if attn == "flash_attention_2" and importlib.util.find_spec("flash_attn") is None:
        return "flash-attn is not installed"
    if attn == "flash_attention_3" and importlib.util.find_spec("flash_attn_interface") is None:
        return "flash-attn 3 (flash_attn_interface) is not installed"
    if attn.startswith("flash") and not torch.cuda.is_available():
        return "flash attention needs a CUDA device"
    if liger and importlib.util.find_spec("liger_kernel") is None:
        return "liger-kernel is not installed"
    if liger and not torch.cuda.is_available():
        return "Liger kernels are Triton kernels (CUDA only)"
    return None


def run(shape: str, seq_len: int, batch_size: int, steps: int, warmup: int, attn: str, liger: bool,
        grad_ckpt: bool, peak_tflops: float | None, seed: int = 0) -> Result:
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    torch.manual_seed(seed)
    config = build_config(shape, seq_len)
    if liger:
        from liger_kernel.transformers import apply_liger_kernel_to_qwen2_5_vl

        apply_liger_kernel_to_qwen2_5_vl(fused_linear_cross_entropy=True, rms_norm=True, swiglu=True, rope=True)
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=dtype, attn_implementation=attn)
    model.train()
    if grad_ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=cuda)
    vocab = config.text_config.vocab_size
    special = min(config.image_token_id, config.video_token_id, config.vision_start_token_id)
    ids = torch.randint(0, min(vocab, special), (batch_size, seq_len), device=device)  # no vision tokens
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    losses, times = [], []
    for i in range(warmup + steps):
        if cuda:
            torch.cuda.synchronize()
        t = time.perf_counter()
        loss = model(**batch, use_cache=False).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        dt = time.perf_counter() - t
        losses.append(loss.detach().item())
        if i >= warmup:
            times.append(dt)
    step_s = sorted(times)[len(times) // 2]  # median: robust to a stray slow step
    tokens = batch_size * seq_len
    fpt, n = flops_per_token(config, seq_len)
    achieved = fpt * tokens / step_s / 1e12
    if peak_tflops:
        peak, source = peak_tflops, "given"
    elif cuda:
        peak, source = gpu_peak(torch.cuda.get_device_name()) or 0.0, f"datasheet bf16 ({torch.cuda.get_device_name()})"
    else:
        peak, source = measured_cpu_peak(), f"measured fp32 matmul ({platform.processor() or platform.machine()})"
    result = Result(
        shape=shape, device=torch.cuda.get_device_name() if cuda else f"cpu x{torch.get_num_threads()} threads",
        attn=attn, liger=liger, grad_ckpt=grad_ckpt, dtype=str(dtype).replace("torch.", ""), seq_len=seq_len,
        batch_size=batch_size, steps=steps, params_b=round(sum(p.numel() for p in model.parameters()) / 1e9, 3),
        tokens_per_s=round(tokens / step_s, 1), step_s=round(step_s, 4), tflops=round(achieved, 3),
        peak_tflops=round(peak, 3), peak_source=source, mfu=round(achieved / peak, 4) if peak else float("nan"),
        peak_mem_gb=round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        loss_first=round(losses[0], 4), loss_last=round(losses[-1], 4),
    )
    del model, opt, batch
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return result


def _row(r: Result | dict) -> str:
    d = asdict(r) if isinstance(r, Result) else r
    if "skipped" in d:
        return f"{d['shape']:>4} {d['attn']:<18} liger={d['liger']!s:<5} ckpt={d['grad_ckpt']!s:<5}  skipped: {d['skipped']}"
    mem = f"{d['peak_mem_gb']:.1f} GB" if d["peak_mem_gb"] is not None else "-"
    return (f"{d['shape']:>4} {d['attn']:<18} liger={d['liger']!s:<5} ckpt={d['grad_ckpt']!s:<5} "
            f"S={d['seq_len']} B={d['batch_size']}  {d['tokens_per_s']:>10,.0f} tok/s  {d['tflops']:>8.2f} TFLOP/s  "
            f"MFU {100 * d['mfu']:5.1f}%  mem {mem}  loss {d['loss_first']:.3f}->{d['loss_last']:.3f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--steps", type=int, default=5, help="measured steps (median step time is reported)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--attn", choices=ATTN, default="sdpa", help="attn_implementation")
    p.add_argument("--liger", action="store_true", help="Liger kernels (fused linear cross-entropy, RMSNorm, SwiGLU, RoPE)")
    p.add_argument("--grad-ckpt", action="store_true", help="gradient checkpointing (non-reentrant)")
    p.add_argument("--sweep", action="store_true",
                   help="every combination of attention x Liger x checkpointing (unavailable ones are listed as skipped)")
    p.add_argument("--peak-tflops", type=float, help="peak FLOP/s for MFU, in TFLOP/s (default: datasheet / measured)")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--json", help="write the results to this JSON file")
    a = p.parse_args(argv)
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)

    combos = (list(itertools.product(("sdpa", "flash_attention_2", "flash_attention_3"), (False, True), (False, True)))
              if a.sweep else [(a.attn, a.liger, a.grad_ckpt)])
    results: list[dict] = []
    for attn, liger, ckpt in combos:
        reason = available(attn, liger)
        if reason:
            results.append({"shape": a.shape, "attn": attn, "liger": liger, "grad_ckpt": ckpt, "skipped": reason})
        else:
            try:
                results.append(asdict(run(a.shape, a.seq_len, a.batch_size, a.steps, a.warmup, attn, liger, ckpt,
                                          a.peak_tflops)))
            except RuntimeError as exc:  # e.g. CUDA out of memory without checkpointing
                results.append({"shape": a.shape, "attn": attn, "liger": liger, "grad_ckpt": ckpt,
                                "skipped": f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"})
        print(_row(results[-1]), flush=True)
    ran = [r for r in results if "skipped" not in r]
    if ran:
        best = max(ran, key=lambda r: r["mfu"])
        print(f"best: {best['attn']} liger={best['liger']} ckpt={best['grad_ckpt']}: "
              f"{best['tokens_per_s']:,.0f} tokens/s, MFU {100 * best['mfu']:.1f}% ({best['peak_source']})")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"argv": sys.argv[1:], "results": results}, f, indent=1)
    return 0 if ran else 1


if __name__ == "__main__":
    sys.exit(main())
