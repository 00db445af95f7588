#!/usr/bin/env python3
"""PyTorch 1.13 outputs for an intentd weights file, for the parity tests.

Loads DIR/model.safetensors into torch.nn.Transformer (batch_first=True,
dropout 0, norm_first for pre-norm, the file's activation and eps) and runs
DIR/inputs.json ({"tokens", "lengths", "tgt"}):
  src = embedding[tokens] * sqrt(d_model) + PE  (nn.Transformer has no embedding)
  memory = transformer.encoder(src, mask=causal mask in causal mode,
                               src_key_padding_mask=padding)
  logits = transformer.decoder(tgt embedded the same way, memory,
                               tgt_mask=causal, memory_key_padding_mask=padding)
           @ output_weight^T + generator.bias
Writes DIR/torch_encoder.f32 [B, T, d] and DIR/torch_logits.f32 [B, Tt, vocab].

Autograd stays enabled on purpose: under torch.no_grad PyTorch 1.13 takes the
nested-tensor fast path, which writes zeros at padded positions.
"""
import math
import sys

import numpy as np
import torch
from torch import nn

from safetensors_read import read_case, write_f32


def positional(n, d):
    pos = np.arange(n, dtype=np.float64)[:, None]
    i = np.arange(0, d, 2, dtype=np.float64)[None, :]
    angle = pos / np.power(10000.0, i / d)
    pe = np.zeros((n, d))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle)[:, : d // 2]
    return torch.tensor(pe, dtype=torch.float32)


def build(meta, tensors):
    model = nn.Transformer(
        d_model=int(meta["d_model"]),
        nhead=int(meta["n_heads"]),
        num_encoder_layers=int(meta["n_encoder_layers"]),
        num_decoder_layers=int(meta["n_decoder_layers"]),
        dim_feedforward=int(meta["d_ff"]),
        dropout=0.0,
        activation=meta["activation"],
        layer_norm_eps=float(meta["layer_norm_eps"]),
        batch_first=True,
        norm_first=meta["norm"] == "pre",
    )
    state = {k: torch.from_numpy(v) for k, v in tensors.items() if k.startswith(("encoder.", "decoder."))}
    model.load_state_dict(state, strict=True)
    return model.eval()


def embed(tensors, tokens, d):
    emb = torch.from_numpy(tensors["embedding.weight"])
    ids = torch.tensor(tokens, dtype=torch.long)
    return emb[ids] * math.sqrt(d) + positional(ids.shape[1], d)


def causal_mask(n):
    return torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)


def main(directory):
    meta, tensors, inputs = read_case(directory)
    d = int(meta["d_model"])
    model = build(meta, tensors)

    tokens, lengths = inputs["tokens"], inputs["lengths"]
    seq_len = len(tokens[0])
    padding = torch.tensor([[t >= n for t in range(seq_len)] for n in lengths], dtype=torch.bool)
    mask = causal_mask(seq_len) if meta["encoder_mode"] == "causal" else None

    memory = model.encoder(embed(tensors, tokens, d), mask=mask, src_key_padding_mask=padding)
    write_f32(directory, "torch_encoder", memory.detach().numpy())

    if int(meta["n_decoder_layers"]) > 0 and "tgt" in inputs:
        tgt = inputs["tgt"]
        out = model.decoder(embed(tensors, tgt, d), memory, tgt_mask=causal_mask(len(tgt[0])),
                            memory_key_padding_mask=padding)
        weight = tensors["embedding.weight"] if meta["tie_output"] == "1" else tensors["generator.weight"]
        logits = out @ torch.from_numpy(weight).T + torch.from_numpy(tensors["generator.bias"])
        write_f32(directory, "torch_logits", logits.detach().numpy())


if __name__ == "__main__":
    main(sys.argv[1])
