"""The image classifier `dl-train folder` trains: a small BN CNN that scales with the input size.

Conv blocks (two 3x3 conv + BatchNorm + ReLU, then a 2x2 max-pool) are stacked until the
feature map is at most MAX_FEATURE_SIDE pixels on its shorter side; one more block of TOP_FILTERS
without a pool reads that map, then global average pooling, dropout and a softmax. An 8x8
picture gets one pooled block, 28x28 two, 64x64 four, 224x224 five; their widths are 16, 32,
64, then MAX_FILTERS. At 32x32 colour that is about 14 million multiply-adds a picture, the
notebook's CNN's 11 million: a first try with widths from 32 up to 256 cost 8.0 s an epoch on
1,000 colour letters against this one's 2.3 s, both at 0.93 test accuracy (bench/folder_vs_keras.py).

BatchNorm's momentum is at most 0.9, not Keras's 0.99: with few steps an epoch (8x8 digits, 1,300
images) the moving averages of 0.99 lag the weights for many epochs and the exported model
(which uses them) answers at chance while training accuracy is high (issue 20). With fewer
than about 44 steps an epoch it is lower still (bn_momentum): the start's share of the
averages is at most 1% after one epoch, and never below 0.5.

Augmentation (`trainer.folder_training.moves`) runs in the input pipeline, never inside the model, so the export
holds inference layers only.

Imports TensorFlow: import it only inside command bodies.
"""

from __future__ import annotations

import keras
from keras import layers

MAX_FEATURE_SIDE = 7  # pool until the shorter side is at most this
FIRST_FILTERS = 16
MAX_FILTERS = 128
TOP_FILTERS = 128
BN_MOMENTUM = 0.9
DROPOUT = 0.3
WEIGHT_DECAY = 1e-4  # L2 on conv and dense kernels: small folders overfit fast

# --augment choices (trainer/folder_training.py decides what `auto` means).
AUGMENTS = ("auto", "none", "shift", "shift-flip")
SHIFT = 0.1  # up to a tenth of the side across and down
ZOOM = 0.1  # in or out by up to a tenth


def pooled_blocks(size: tuple[int, int]) -> int:
    """How many pooled blocks a picture of SIZE (H, W) gets: halve the shorter side until it is at most MAX_FEATURE_SIDE."""
    side, blocks = min(size), 0
    while side > MAX_FEATURE_SIDE:
        side = (side + 1) // 2
        blocks += 1
    return blocks


def bn_momentum(steps: int) -> float:
    """BatchNorm's momentum for STEPS training steps an epoch: 0.01 ** (1 / steps), within [0.5, BN_MOMENTUM]."""
    return min(BN_MOMENTUM, max(0.5, 0.01 ** (1 / max(steps, 1))))


def _block(x, filters: int, name: str, momentum: float):
    for i in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_regularizer=keras.regularizers.l2(WEIGHT_DECAY),
                          name=f"{name}_conv{i}")(x)
        x = layers.BatchNormalization(momentum=momentum, name=f"{name}_bn{i}")(x)
        x = layers.ReLU(name=f"{name}_relu{i}")(x)
    return x


def build_folder_cnn(size: tuple[int, int], channels: int, classes: int, name: str = "folder",
                     momentum: float = BN_MOMENTUM) -> keras.Model:
    """[N, H, W, C] pictures in [0, 1] -> [N, CLASSES] probabilities."""
    image = keras.Input((size[0], size[1], channels), name="image")
    x = image
    filters = FIRST_FILTERS
    for i in range(pooled_blocks(size)):
        x = _block(x, filters, f"block{i + 1}", momentum)
        x = layers.MaxPool2D(2, padding="same", name=f"block{i + 1}_pool")(x)
        filters = min(filters * 2, MAX_FILTERS)
    x = _block(x, TOP_FILTERS, "top", momentum)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(DROPOUT, name="dropout")(x)
    probabilities = layers.Dense(classes, activation="softmax", kernel_regularizer=keras.regularizers.l2(WEIGHT_DECAY),
                                 name="probabilities")(x)
    return keras.Model(image, probabilities, name=name)
