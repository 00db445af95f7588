#!/usr/bin/env python3
"""Independent NumPy reference of the intentd Transformer, for golden values.

Written from the equations of Vaswani et al. 2017 and the conventions stated in
model/model.h and model/encoder.h, computed in float64:
  x = E[token] * sqrt(d) + PE(pos),  PE(pos, 2i) = sin(pos / 10000^(2i/d)),
  PE(pos, 2i+1) = cos(pos / 10000^(2i/d))
  attention = softmax(Q K^T / sqrt(d_k) + mask) V per head; a query with every
  key masked gets zero weights
  post-norm: x = LN(x + f(x)); pre-norm: x = x + f(LN(x))
  encoder.norm after the encoder stack, decoder.norm after the decoder stack
  pooled = last valid position (causal) or masked mean (bidirectional), zero
  for an empty sequence.

Usage: numpy_transformer.py DIR. Reads DIR/model.safetensors and
DIR/inputs.json ({"tokens", "lengths", "tgt"}), writes DIR/numpy_*.f32.
"""
import math
import sys

import numpy as np
from safetensors_read import read_case, write_f32

erf = np.vectorize(math.erf, otypes=[np.float64])


class Config:
    def __init__(self, meta):
        self.d = int(meta["d_model"])
        self.heads = int(meta["n_heads"])
        self.enc_layers = int(meta["n_encoder_layers"])
        self.dec_layers = int(meta["n_decoder_layers"])
        self.pre = meta["norm"] == "pre"
        self.gelu = meta["activation"] == "gelu"
        self.causal = meta["encoder_mode"] == "causal"
        self.tied = meta["tie_output"] == "1"
        self.eps = float(meta["layer_norm_eps"])
        self.item_begin = int(meta["item_begin"])
        self.item_end = int(meta["item_end"])


def positional(n, d, start=0):
    pe = np.zeros((n, d))
    for pos in range(start, start + n):
        for i in range(0, d, 2):
            angle = pos / (10000.0 ** (i / d))
            pe[pos - start, i] = math.sin(angle)
            if i + 1 < d:
                pe[pos - start, i + 1] = math.cos(angle)
    return pe


def layer_norm(x, w, b, eps):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


def attention(cfg, q, k, v, visible):
    """q [tq, d], k and v [tk, d]; visible [tq, tk] booleans."""
    dk = cfg.d // cfg.heads
    out = np.zeros_like(q)
    for h in range(cfg.heads):
        cols = slice(h * dk, (h + 1) * dk)
        scores = q[:, cols] @ k[:, cols].T / math.sqrt(dk)
        for i in range(q.shape[0]):
            mask = visible[i]
            if not mask.any():
                continue
            s = scores[i, mask]
            p = np.exp(s - s.max())
            p /= p.sum()
            out[i, cols] = p @ v[mask][:, cols]
    return out


def mha(cfg, t, prefix, x_q, x_kv, visible):
    w = t[prefix + ".in_proj_weight"].astype(np.float64)
    b = t[prefix + ".in_proj_bias"].astype(np.float64)
    d = cfg.d
    q = x_q @ w[:d].T + b[:d]
    k = x_kv @ w[d:2 * d].T + b[d:2 * d]
    v = x_kv @ w[2 * d:].T + b[2 * d:]
    ctx = attention(cfg, q, k, v, visible)
    return ctx @ t[prefix + ".out_proj.weight"].T + t[prefix + ".out_proj.bias"]


def ffn(cfg, t, prefix, x):
    h = x @ t[prefix + ".linear1.weight"].T + t[prefix + ".linear1.bias"]
    h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0))) if cfg.gelu else np.maximum(h, 0.0)
    return h @ t[prefix + ".linear2.weight"].T + t[prefix + ".linear2.bias"]


def sublayer(cfg, t, norm, x, f):
    w, b = t[norm + ".weight"], t[norm + ".bias"]
    if cfg.pre:
        return x + f(layer_norm(x, w, b, cfg.eps))
    return layer_norm(x + f(x), w, b, cfg.eps)


def embed(cfg, t, tokens):
    e = t["embedding.weight"].astype(np.float64)
    return e[np.asarray(tokens, dtype=int)] * math.sqrt(cfg.d) + positional(len(tokens), cfg.d)


def encode(cfg, t, tokens, length):
    n = len(tokens)
    x = embed(cfg, t, tokens)
    visible = np.zeros((n, n), dtype=bool)
    visible[:, :length] = True
    if cfg.causal:
        visible &= np.tril(np.ones((n, n), dtype=bool))
    for layer in range(cfg.enc_layers):
        p = f"encoder.layers.{layer}"
        x = sublayer(cfg, t, p + ".norm1", x, lambda y: mha(cfg, t, p + ".self_attn", y, y, visible))
        x = sublayer(cfg, t, p + ".norm2", x, lambda y: ffn(cfg, t, p, y))
    return layer_norm(x, t["encoder.norm.weight"], t["encoder.norm.bias"], cfg.eps)


def pool(cfg, hidden, length):
    if length == 0:
        return np.zeros(cfg.d)
    if cfg.causal:
        return hidden[length - 1]
    return hidden[:length].mean(axis=0)


def decode(cfg, t, tgt, memory, mem_len):
    n = len(tgt)
    x = embed(cfg, t, tgt)
    self_visible = np.tril(np.ones((n, n), dtype=bool))
    cross_visible = np.zeros((n, memory.shape[0]), dtype=bool)
    cross_visible[:, :mem_len] = True
    for layer in range(cfg.dec_layers):
        p = f"decoder.layers.{layer}"
        x = sublayer(cfg, t, p + ".norm1", x, lambda y: mha(cfg, t, p + ".self_attn", y, y, self_visible))
        x = sublayer(cfg, t, p + ".norm2", x,
                     lambda y: mha(cfg, t, p + ".multihead_attn", y, memory, cross_visible))
        x = sublayer(cfg, t, p + ".norm3", x, lambda y: ffn(cfg, t, p, y))
    x = layer_norm(x, t["decoder.norm.weight"], t["decoder.norm.bias"], cfg.eps)
    g = t["embedding.weight"] if cfg.tied else t["generator.weight"]
    return x @ g.T + t["generator.bias"]


def heads(cfg, t, pooled):
    out = {"items": pooled @ t["embedding.weight"][cfg.item_begin:cfg.item_end].T}
    for name in ("action", "category", "sentiment"):
        if f"heads.{name}.weight" in t:
            out[name] = pooled @ t[f"heads.{name}.weight"].T + t[f"heads.{name}.bias"]
    z = pooled @ t["heads.propensity.weight"].T + t["heads.propensity.bias"]
    out["propensity"] = 1.0 / (1.0 + np.exp(-z[:, 0]))
    return out


def main(directory):
    meta, t, inputs = read_case(directory)
    t = {k: v.astype(np.float64) for k, v in t.items()}
    cfg = Config(meta)
    tokens, lengths = inputs["tokens"], inputs["lengths"]

    hidden = np.stack([encode(cfg, t, seq, n) for seq, n in zip(tokens, lengths)])
    pooled = np.stack([pool(cfg, h, n) for h, n in zip(hidden, lengths)])
    write_f32(directory, "numpy_encoder", hidden)
    write_f32(directory, "numpy_pooled", pooled)
    for name, value in heads(cfg, t, pooled).items():
        write_f32(directory, f"numpy_{name}", value)
    if cfg.dec_layers > 0 and "tgt" in inputs:
        logits = np.stack([decode(cfg, t, tgt, h, n) for tgt, h, n in zip(inputs["tgt"], hidden, lengths)])
        write_f32(directory, "numpy_logits", logits)


if __name__ == "__main__":
    main(sys.argv[1])
