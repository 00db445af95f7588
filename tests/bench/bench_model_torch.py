#!/usr/bin/env python3
"""PyTorch 1.13 nn.TransformerEncoder timing for tests/bench/bench_model.c.

Usage: bench_model_torch.py WEIGHTS THREADS SEQ_LEN MIN_SECONDS BATCH...
Loads the intentd safetensors file into nn.Transformer's encoder (same
weights, batch_first, dropout 0), sets torch.set_num_threads(THREADS) and
times embedding * sqrt(d) + PE, the causal or full encoder and encoder.norm
under torch.inference_mode(), which lets PyTorch use its fused fast path.
Prints one line per batch size: "torch batch=B seconds=S cpu_seconds=C",
the wall and process CPU seconds per call of the fastest of ten rounds.
"""
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ref"))
from safetensors_read import read_safetensors  # noqa: E402
from torch_parity import build, causal_mask, positional  # noqa: E402

ROUNDS = 10  # the same as ROUNDS in bench_model.c


def best_seconds(fn, min_seconds):
    """Return (wall, cpu) seconds per call of the fastest of ROUNDS rounds."""
    fn()
    best = (float("inf"), float("inf"))
    for _ in range(ROUNDS):
        calls, start, cpu_start = 0, time.perf_counter(), time.process_time()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds / ROUNDS:
                break
        if elapsed / calls < best[0]:
            best = (elapsed / calls, (time.process_time() - cpu_start) / calls)
    return best


def main():
    path, threads, seq_len, min_seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    batches = [int(b) for b in sys.argv[5:]]
    torch.set_num_threads(threads)
    meta, tensors = read_safetensors(path)
    d = int(meta["d_model"])
    encoder = build(meta, tensors).encoder
    emb = torch.from_numpy(tensors["embedding.weight"])
    pe = positional(seq_len, d)
    mask = causal_mask(seq_len) if meta["encoder_mode"] == "causal" else None
    vocab = emb.shape[0]

    for batch in batches:
        ids = torch.randint(0, vocab, (batch, seq_len))

        def run():
            with torch.inference_mode():
                encoder(emb[ids] * math.sqrt(d) + pe, mask=mask)

        wall, cpu = best_seconds(run, min_seconds)
        print(f"torch batch={batch} seconds={wall:.9f} cpu_seconds={cpu:.9f}", flush=True)


if __name__ == "__main__":
    main()
