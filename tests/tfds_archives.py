"""Tiny archives in the exact formats TFDS's real builders download, for preparing datasets offline.

`tfds.testing.mock_data` skips the builders altogether; these files let the real ones run end to
end instead (download manager, extraction, `_generate_examples`, the TFRecord writer), with only
the archive's address pointed at a local file. Each function returns what it wrote, so a test can
compare the prepared dataset with it example for example.
"""

from __future__ import annotations

import io
import os
import tarfile

import numpy as np
import tensorflow as tf

# Three of imagenette's ten WordNet ids (also ImageNet classes 0, 217 and 482).
SYNSETS = ("n01440764", "n02102040", "n02979186")


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _pixels(seed: int, shape) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def cifar(path: str, *, n_train: int, n_test: int, hundred: bool = False) -> dict:
    """`cifar-10-binary.tar.gz` (or `cifar-100-binary.tar.gz`) as www.cs.toronto.edu serves it:
    records of label byte(s) then 3072 bytes of channel-planar 32x32 RGB.

    Returns {"train"|"test": [(label, HxWxC image), ...]} in file order."""
    written, records = {}, {}
    for split, n, seed in (("train", n_train, 0), ("test", n_test, 10_000)):
        records[split], written[split] = [], []
        for i in range(n):
            planar = _pixels(seed + i, (3, 32, 32))
            labels = [i % 20, i % 100] if hundred else [i % 10]  # CIFAR-100: coarse, fine
            records[split].append(bytes(labels) + planar.tobytes())
            written[split].append((labels[-1], planar.transpose(1, 2, 0)))
    blobs = {split: b"".join(r) for split, r in records.items()}
    with tarfile.open(path, "w:gz") as tar:
        if hundred:
            _add(tar, "cifar-100-binary/train.bin", blobs["train"])
            _add(tar, "cifar-100-binary/test.bin", blobs["test"])
            for f, k in (("coarse_label_names.txt", 20), ("fine_label_names.txt", 100)):
                _add(tar, f"cifar-100-binary/{f}", "\n".join(f"c{i}" for i in range(k)).encode())
        else:
            # The builder reads five training batches; deal the records over them in order.
            per = -(-n_train // 5)
            for b in range(5):
                chunk = b"".join(records["train"][b * per : (b + 1) * per])
                _add(tar, f"cifar-10-batches-bin/data_batch_{b + 1}.bin", chunk)
            _add(tar, "cifar-10-batches-bin/test_batch.bin", blobs["test"])
            names = "\n".join(f"class{i}" for i in range(10)).encode()
            _add(tar, "cifar-10-batches-bin/batches.meta.txt", names)
    return written


def _jpeg(seed: int) -> bytes:
    return tf.io.encode_jpeg(_pixels(seed, (40, 48, 3))).numpy()


def imagenette(path: str, *, per_class: int) -> dict:
    """`imagenette2-320.tgz` as fast.ai serves it: `imagenette2-320/{train,val}/<wnid>/*.JPEG`.

    Returns {"train"|"val": number of images}."""
    with tarfile.open(path, "w:gz") as tar:
        for split in ("train", "val"):
            for wnid in SYNSETS:
                for i in range(per_class):
                    _add(tar, f"imagenette2-320/{split}/{wnid}/{wnid}_{i}.JPEG", _jpeg(i))
    n = per_class * len(SYNSETS)
    return {"train": n, "val": n}


def imagenet(manual_dir: str, *, per_class: int, n_val: int) -> dict:
    """ILSVRC2012_img_train.tar (one inner tar per WordNet id) and ILSVRC2012_img_val.tar, as
    image-net.org's manual download has them. Returns {"train"|"validation": number of images}."""
    os.makedirs(manual_dir, exist_ok=True)
    with tarfile.open(os.path.join(manual_dir, "ILSVRC2012_img_train.tar"), "w") as tar:
        for wnid in SYNSETS:
            inner = io.BytesIO()
            with tarfile.open(fileobj=inner, mode="w") as sub:
                for i in range(per_class):
                    _add(sub, f"{wnid}_{i}.JPEG", _jpeg(i))
            _add(tar, f"{wnid}.tar", inner.getvalue())
    with tarfile.open(os.path.join(manual_dir, "ILSVRC2012_img_val.tar"), "w") as tar:
        for i in range(1, n_val + 1):  # labels come from TFDS's own list, by file name
            _add(tar, f"ILSVRC2012_val_{i:08d}.JPEG", _jpeg(100 + i))
    return {"train": per_class * len(SYNSETS), "validation": n_val}
