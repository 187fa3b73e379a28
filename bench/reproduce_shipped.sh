#!/usr/bin/env bash
# The exact chain of dl-train runs that made the shipped CNNs (exported/cnn.onnx,
# cnn-invert.onnx and their int8 twins), in one step. docs/ood.md tells the story; each round
# is the commit that shipped it, its command read back from the file's `config` metadata.
#
#   bench/reproduce_shipped.sh [--data mnist.npz] [--out DIR] [--fonts DIR] [--all]
#
#   --data   a Keras-style mnist.npz (default ../shared/data/mnist.npz)
#   --out    where everything goes (default reproduced/; never exported/ unless you say so):
#            one folder per round, and the four final files at the top
#   --fonts  a folder holding the fonts of the 15 Debian 12 packages below (156 .ttf/.otf);
#            without it they are fetched with apt-get download and unpacked into OUT/fonts
#            (Debian 12 only: the count is checked), never installed, so the evaluation's
#            fonts (bench/ood_data.py: the installed ones) stay as they were
#   --all    also iris, vae and vae-classifier (dl-train's defaults, as shipped in 75d8f71)
#
# Needs dl-train (pip install -e '.[train]'); the CNNs take about an hour and a half on 2 busy CPU
# cores (an epoch of cnn took 60-135 s, of cnn-invert 125-175 s, 2026-12-04). Every
# run uses dl-train's default seed, 42. TensorFlow's CPU kernels and the trainer's code have
# moved since the shipped runs, so the figures come out close to the shipped ones (docs/ood.md,
# README), not identical to the bit. One known move: rounds 3 and 4 train with today's energy
# loss, whose digit margin counts only for digits classified right and grows linearly past a
# distance of 1 (since 6063664, for training from scratch on small data); the shipped rounds had
# the plain squared margin on every digit. From round 2's networks (about 99% of digits right,
# most below the margin already) the two differ on few examples; not yet rerun to measure it.
set -euo pipefail

DATA=../shared/data/mnist.npz
OUT=reproduced
FONTS=
ALL=0
while [ $# -gt 0 ]; do
    case "$1" in
        --data) DATA=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --fonts) FONTS=$2; shift 2 ;;
        --all) ALL=1; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
DL_TRAIN=${DL_TRAIN:-dl-train}
command -v "$DL_TRAIN" >/dev/null || { echo "error: no $DL_TRAIN: pip install -e '.[train]'" >&2; exit 2; }
[ -f "$DATA" ] || { echo "error: no MNIST at $DATA: give --data mnist.npz" >&2; exit 2; }
mkdir -p "$OUT"

FONT_PACKAGES="fonts-liberation2 fonts-freefont-ttf fonts-texgyre fonts-crosextra-carlito
fonts-crosextra-caladea fonts-cantarell fonts-comic-neue fonts-linuxlibertine fonts-open-sans
fonts-lato fonts-roboto-unhinted fonts-ebgaramond fonts-hack fonts-inconsolata fonts-firacode"
if [ -z "$FONTS" ]; then
    FONTS=$OUT/fonts
    if [ ! -d "$FONTS" ]; then
        debs=$(mktemp -d)
        # shellcheck disable=SC2086
        (cd "$debs" && apt-get download $FONT_PACKAGES)
        mkdir -p "$FONTS.part"
        for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$FONTS.part"; done
        rm -rf "$debs"
        mv "$FONTS.part" "$FONTS"
    fi
fi
count=$(find -L "$FONTS" -type f \( -iname '*.ttf' -o -iname '*.otf' \) | wc -l)
if [ "$count" -ne 156 ]; then
    echo "error: $FONTS holds $count fonts, the shipped runs had 156 (Debian 12's $FONT_PACKAGES)" | tr '\n' ' ' >&2
    echo >&2
    exit 2
fi

train() { echo "+ dl-train $*" >&2; "$DL_TRAIN" "$@" --data "$DATA" --progress none; }

# 1. 75d8f71: the notebook's 10 epochs at 1e-3, no outliers.
train cnn --no-outlier-exposure --out "$OUT/1-notebook"
train cnn --invert --no-outlier-exposure --out "$OUT/1-notebook"

# 2. 89883e6: three epochs of outlier exposure with the uniform target, at 3e-4. (The cnn's
# logistic head was then refitted with python -m trainer.ood; rounds 3 and 4 drop the head,
# --init reads the CNN's own weights only, so that step changes nothing downstream.)
train cnn --init "$OUT/1-notebook/cnn.onnx" --learning-rate 3e-4 --epochs 3 --outlier-loss uniform --out "$OUT/2-uniform"
train cnn --invert --init "$OUT/1-notebook/cnn-invert.onnx" --learning-rate 3e-4 --epochs 3 --outlier-loss uniform --out "$OUT/2-uniform"

# 3. 6f04c30 (cnn-invert only): the energy loss and the 156 more fonts, three epochs.
train cnn --invert --init "$OUT/2-uniform/cnn-invert.onnx" --learning-rate 3e-4 --epochs 3 --outlier-loss energy \
    --fonts "$FONTS" --out "$OUT/3-energy"

# 4. dd2dc75 (cnn only, from round 2's cnn): the same with five epochs and --shift 1.
train cnn --init "$OUT/2-uniform/cnn.onnx" --learning-rate 3e-4 --epochs 5 --shift 1 --outlier-loss energy \
    --fonts "$FONTS" --out "$OUT/4-energy-shift"

cp "$OUT/4-energy-shift/cnn.onnx" "$OUT/4-energy-shift/cnn.int8.onnx" "$OUT/"
cp "$OUT/3-energy/cnn-invert.onnx" "$OUT/3-energy/cnn-invert.int8.onnx" "$OUT/"

if [ "$ALL" = 1 ]; then
    train iris --out "$OUT"
    train vae --out "$OUT"
    train vae-classifier --out "$OUT"
fi

echo "done: the shipped chain's files are in $OUT; check them with" >&2
echo "  python bench/ood_eval.py --data $DATA --models $OUT --precision auto" >&2
[ "$ALL" = 1 ] && echo "  python bench/verify_shipped.py --data $DATA --models $OUT" >&2
exit 0
