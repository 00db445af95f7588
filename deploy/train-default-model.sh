#!/bin/sh
# Trains the default model, model/default/intentd-default.safetensors, from
# the Taobao UserBehavior sample and the online_shopping_10_cats reviews with
# fixed options and seed. Run from the repository root after building:
#
#   cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release && cmake --build build/release --target intentd
#   deploy/train-default-model.sh
#
# INTENTD (the intentd binary, default build/release/processor/intentd), DATA (the
# data folder, default ../shared/data) and OUT override the paths. The run
# is deterministic for one machine, build and thread count (see
# model/TRAINING.md); a different CPU or OpenBLAS may change the last bits.
set -eu

INTENTD=${INTENTD:-build/release/processor/intentd}
DATA=${DATA:-../shared/data}
OUT=${OUT:-model/default/intentd-default.safetensors}

if [ ! -x "$INTENTD" ]; then
    echo "train-default-model: $INTENTD not found; build it first (cmake --build build/release --target intentd)" >&2
    exit 2
fi

exec "$INTENTD" train \
    --taobao "$DATA/taobao_user_behavior_sample.csv" \
    --reviews "$DATA/online_shopping_10_cats.csv" \
    --out "$OUT" \
    --seed 20261204 --threads 2 \
    --d-model 64 --layers 2 --heads 2 --d-ff 256 --max-len 64 --dropout 0.1 \
    --epochs 3 --patience 0 --batch-size 64 --lr 0.002 --warmup 100 \
    --bpe-merges 6000 --max-text-tokens 59 \
    --item-min-count 2 --item-max-size 50000 --item-buckets 1024 --category-buckets 64 \
    "$@"
