"""A labelled folder of pictures for `dl-train folder` and `dl-train check`: its layout and files
(`scan`), a stratified seeded split and its manifest (`split`), the decode cache (`decode`,
`cache_scan`), the size and channels chosen from the pictures, and the check report
(`check_folder`, `trainer.folders.check`). No TensorFlow here."""

from trainer.folders.cache import Cached, cache_scan, decode
from trainer.folders.images import choose_channels, choose_size, look
from trainer.folders.layout import CLASSES, SPLIT_NAMES, SPLITS, Problem, Scan, scan
from trainer.folders.split import (
    ManifestError,
    Split,
    check_fraction,
    manifest_path,
    read_manifest,
    split,
    write_manifest,
)

__all__ = [
    "CLASSES",
    "SPLITS",
    "SPLIT_NAMES",
    "Cached",
    "ManifestError",
    "Problem",
    "Scan",
    "Split",
    "cache_scan",
    "check_fraction",
    "choose_channels",
    "choose_size",
    "decode",
    "look",
    "manifest_path",
    "read_manifest",
    "scan",
    "split",
    "write_manifest",
]
