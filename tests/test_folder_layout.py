"""trainer.folders: the two layouts, the walk, the stratified seeded split and its manifest,
the decode cache and the size and channels chosen from the pictures (real files, no TensorFlow)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from folder_sets import (
    colour_set,
    grey_set,
    imbalanced_set,
    make_set,
    messy_set,
    nonsquare_set,
    splits_set,
    tiny_set,
)
from trainer.folders import (
    ManifestError,
    cache_scan,
    choose_channels,
    choose_size,
    decode,
    read_manifest,
    scan,
    split,
    write_manifest,
)
from tui.runtime.preprocess import load_image, picture_array


def test_classes_layout(tmp_path):
    root = grey_set(tmp_path / "set", per_class=5, classes=3)
    found = scan(root)
    assert found.layout == "classes"
    assert found.classes == ["circle", "square", "triangle"]
    assert found.splits == []
    assert [len(found.class_files(name)) for name in found.classes] == [5, 5, 5]
    assert found.problems == []


@pytest.mark.parametrize("val_name", ["val", "valid", "validation", "Validation"])
def test_splits_layout(tmp_path, val_name):
    root = splits_set(tmp_path / "set", train=6, val=2, test=3, val_name=val_name)
    found = scan(root)
    assert found.layout == "splits"
    assert found.splits == ["train", "val", "test"]
    parts = split(found, seed=0)
    assert parts.counts() == {"train": dict.fromkeys(found.classes, 6), "val": dict.fromkeys(found.classes, 2),
                              "test": dict.fromkeys(found.classes, 3)}
    # the given splits are used as they are, whatever the fractions and seed
    assert parts.where() == split(found, val=0.4, test=0.3, seed=7).where()


def test_splits_layout_without_val_makes_it_from_train(tmp_path):
    root = tmp_path / "set"
    make_set(root / "train", {"a": 10, "b": 10})
    make_set(root / "test", {"a": 3, "b": 3}, seed=1)
    parts = split(scan(root), val=0.2, test=0.1, seed=0)
    counts = parts.counts()
    assert counts["val"] == {"a": 2, "b": 2}
    assert counts["train"] == {"a": 8, "b": 8}
    assert counts["test"] == {"a": 3, "b": 3}  # given: not cut again


def test_a_class_named_train_is_still_the_classes_layout(tmp_path):
    root = make_set(tmp_path / "set", {"train": 3, "boat": 3})
    assert scan(root).layout == "classes"


def test_nested_folders_hidden_folders_and_links(tmp_path):
    root = grey_set(tmp_path / "set", per_class=3, classes=2)
    nested = root / "circle" / "more" / "deeper"
    make_set(nested.parent.parent / "x", {"deeper": 2})  # circle/x/deeper/*.png
    make_set(root / "circle", {".ipynb_checkpoints": 2})
    outside = make_set(tmp_path / "elsewhere", {"pics": 4})
    (root / "square" / "linked").symlink_to(outside / "pics", target_is_directory=True)
    (root / "square" / "one.png").unlink(missing_ok=True)
    (root / "square" / "picture_link.png").symlink_to(outside / "pics" / "pics_0000.png")
    found = scan(root)
    names = [path.relative_to(root).as_posix() for path in found.class_files("circle")]
    assert names == ["circle/circle_0000.png", "circle/circle_0001.png", "circle/circle_0002.png",
                     "circle/x/deeper/deeper_0000.png", "circle/x/deeper/deeper_0001.png"]
    assert root / "square" / "picture_link.png" in found.class_files("square")  # linked files are read
    kinds = {problem.path.relative_to(root).as_posix(): problem.kind for problem in found.problems}
    assert kinds == {"circle/.ipynb_checkpoints": "hidden-folder", "square/linked": "folder-link"}


def test_messy_scan_names_what_it_leaves_out(tmp_path):
    files = messy_set(tmp_path / "messy")
    found = scan(tmp_path / "messy")
    assert found.classes == ["circle", "single", "square"]
    assert found.empty_classes == ["empty"]
    kinds = {problem.path: problem.kind for problem in found.problems}
    assert kinds == {files["readme"]: "outside-class", files["ds_store"]: "outside-class",
                     files["class_ds_store"]: "not-image", files["notes"]: "not-image",
                     files["empty_png"]: "empty", files["empty_class"]: "empty-class"}
    circle = found.class_files("circle")
    assert files["nested"] / "nested_0.png" in circle and files["truncated"] in circle  # decoding finds it


def test_a_picture_without_an_image_ending_is_kept(tmp_path):
    root = grey_set(tmp_path / "set", per_class=2, classes=2)
    os.rename(root / "circle" / "circle_0000.png", root / "circle" / "scan_0000")
    assert root / "circle" / "scan_0000" in scan(root).class_files("circle")


def test_odd_file_names_do_not_crash(tmp_path):
    root = grey_set(tmp_path / "set", per_class=3, classes=2)
    odd = root / "circle" / "bad\x1b[31mname\n.png"
    os.rename(root / "circle" / "circle_0000.png", odd)
    raw = os.fsencode(root / "square") + b"/\xff\xfe.png"
    os.rename(root / "square" / "square_0000.png", raw)
    found = scan(root)
    parts = split(found)
    path = tmp_path / "odd.split.json"
    write_manifest(path, parts)
    assert read_manifest(path).manifest() == parts.manifest()


def test_manifest_reproduces_under_the_same_seed(tmp_path):
    root = imbalanced_set(tmp_path / "set", small=6, ratio=5)
    first, second, other = tmp_path / "a.split.json", tmp_path / "b.split.json", tmp_path / "c.split.json"
    write_manifest(first, split(scan(root), seed=3))
    write_manifest(second, split(scan(root), seed=3))
    write_manifest(other, split(scan(root), seed=4))
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()
    manifest = json.loads(first.read_text())
    assert manifest["version"] == 1 and manifest["root"] == str(root.resolve()) and manifest["seed"] == 3
    assert manifest["layout"] == "classes" and manifest["classes"] == scan(root).classes
    assert set(manifest["files"]) == {"train", "val", "test"}
    listed = [rel for pairs in manifest["files"].values() for rel, _ in pairs]
    assert sorted(listed) == sorted(p.relative_to(root).as_posix() for p, _, _ in scan(root).all_files())
    back = read_manifest(first)
    assert back.files == split(scan(root), seed=3).files and back.seed == 3


def test_read_manifest_refuses_damage_in_one_line(tmp_path):
    path = tmp_path / "x.split.json"
    for text in ("{not json", json.dumps({"version": 1}), json.dumps({"version": 9})):
        path.write_text(text)
        with pytest.raises(ManifestError) as caught:
            read_manifest(path)
        assert "\n" not in str(caught.value) and "x.split.json" in str(caught.value)
    with pytest.raises(ManifestError, match="cannot read"):
        read_manifest(tmp_path / "missing.split.json")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stratified_each_class_within_one_image(tmp_path, seed):
    counts = {"a": 7, "b": 13, "c": 40, "d": 101, "e": 3}
    root = make_set(tmp_path / "set", counts, size=(8, 8))
    parts = split(scan(root), val=0.15, test=0.2, seed=seed)
    got = parts.counts()
    for name, n in counts.items():
        assert abs(got["test"][name] - n * 0.2) <= 1, name
        assert abs(got["val"][name] - n * 0.15) <= 1, name
        assert got["train"][name] + got["val"][name] + got["test"][name] == n
    every = [rel for pairs in parts.files.values() for rel, _ in pairs]
    assert len(every) == len(set(every)) == sum(counts.values())


def test_a_class_too_small_to_split_trains_with_a_warning(tmp_path):
    root = make_set(tmp_path / "set", {"big": 20, "pair": 2})
    parts = split(scan(root), val=0.1, test=0.1)
    assert parts.small == ["pair"]
    assert parts.warnings == ["class 'pair' has only 2 images, too few to split: all train"]
    assert parts.counts()["train"]["pair"] == 2
    assert split(scan(root), val=0.0, test=0.1).small == []  # one to train, one to test


def test_bad_fractions_are_refused():
    from trainer.folders import check_fraction

    for val, test in ((0.5, 0.5), (-0.1, 0.1), (1.0, 0.0)):
        with pytest.raises(ValueError, match="together under 1"):
            check_fraction(val, test)


@pytest.mark.parametrize(("maker", "size", "channels"), [
    (colour_set, (16, 16), 3), (nonsquare_set, (12, 24), 1), (tiny_set, (8, 8), 1)])
def test_decode_is_picture_array_of_load_image(tmp_path, maker, size, channels):
    found = scan(maker(tmp_path / "set", per_class=4))
    paths = [path for path, _, _ in found.all_files()]
    images, failures = decode(paths, size, channels)
    assert failures == []
    assert images.dtype == np.uint8 and images.shape == (len(paths), *size, channels)
    for row, path in zip(images, paths, strict=True):
        expected = picture_array(load_image(path, colour=channels == 3), size, channels)
        assert np.array_equal(row, expected)
    bicubic, _ = decode(paths, (5, 7), channels, resize="bicubic")
    assert bicubic.shape == (len(paths), 5, 7, channels)


def test_decode_in_processes_gives_the_same_arrays(tmp_path):
    found = scan(tiny_set(tmp_path / "set", per_class=100))  # 300 files: two chunks
    paths = [path for path, _, _ in found.all_files()]
    paths.insert(7, tmp_path / "missing.png")
    alone, failed_alone = decode(paths, (8, 8), 1, workers=1)
    pooled, failed_pooled = decode(paths, (8, 8), 1, workers=2)
    assert np.array_equal(alone, pooled) and len(alone) == 300
    assert failed_alone == failed_pooled == [(tmp_path / "missing.png", "no such file")]


def test_cache_scan_drops_failures_and_keeps_labels_aligned(tmp_path):
    files = messy_set(tmp_path / "messy")
    cached = cache_scan(scan(tmp_path / "messy"), (16, 16), 1)
    assert [path for path, _ in cached.failures] == [files["truncated"]]
    parts = split(cached.scan, seed=0)
    x, y = cached.arrays(parts, "train")
    paths, labels = parts.paths("train")
    assert np.array_equal(y, labels) and files["truncated"] not in paths
    for picture, path in zip(x, paths, strict=True):
        assert np.array_equal(picture, picture_array(load_image(path), (16, 16), 1))


def test_choose_size():
    assert choose_size([(28, 28)] * 5) == (28, 28)
    assert choose_size([(12, 24), (12, 24), (14, 30)]) == (12, 24)
    assert choose_size([(480, 640), (600, 800), (480, 640)]) == (48, 64)  # capped at 64 a side
    assert choose_size([(4, 4), (6, 4)]) == (8, 8)  # at least 8
    assert choose_size([(2000, 100)]) == (64, 8)
    assert choose_size([]) == (28, 28)


def test_choose_size_and_channels_from_a_scan(tmp_path):
    assert choose_size(scan(nonsquare_set(tmp_path / "wide", per_class=3))) == (12, 24)
    assert choose_size(scan(tiny_set(tmp_path / "tiny", per_class=3))) == (8, 8)
    assert choose_channels(scan(colour_set(tmp_path / "colour", per_class=5))) == 3
    assert choose_channels(scan(grey_set(tmp_path / "grey", per_class=5))) == 1


def test_an_rgb_file_with_equal_channels_is_grey(tmp_path):
    root = grey_set(tmp_path / "set", per_class=5, classes=2)
    for path in root.rglob("*.png"):
        Image.open(path).convert("RGB").save(path)  # RGB files, grey pictures
    assert Image.open(next(root.rglob("*.png"))).mode == "RGB"
    assert choose_channels(scan(root)) == 1
    # one colour picture in ten makes a class colour
    assert choose_channels({"a": [False] * 9 + [True], "b": [False] * 10}) == 3
    assert choose_channels({"a": [False] * 19 + [True]}) == 1


def test_scan_of_a_missing_folder_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        scan(Path(tmp_path / "nothing"))


def test_a_given_class_without_training_images_is_named(tmp_path):
    root = tmp_path / "set"
    make_set(root / "train", {"a": 5, "b": 5})
    make_set(root / "test", {"a": 2, "b": 2, "c": 2}, seed=1)
    parts = split(scan(root))
    assert parts.warned == ["c"] and parts.small == []
    assert parts.warnings == ["class 'c' has no training images (only in test): it cannot be learnt"]
    assert parts.counts()["test"]["c"] == 2


def test_a_stray_folder_beside_the_splits_is_named(tmp_path):
    root = splits_set(tmp_path / "set", train=4, val=2, test=2, classes=2)
    make_set(root / "raw", {"unsorted": 3})
    found = scan(root)
    assert found.layout == "splits" and found.classes == ["circle", "square"]
    assert [(problem.path, problem.kind) for problem in found.problems] == [(root / "raw", "not-split")]
    # with no val or test folder beside it, train is a class like the others
    assert scan(make_set(tmp_path / "vehicles", {"train": 3, "car": 3})).layout == "classes"
    nested_train = make_set(tmp_path / "nested", {"car": 3})
    make_set(nested_train / "train", {"steam": 2})
    assert scan(nested_train).layout == "classes"
