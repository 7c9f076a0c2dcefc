"""The published ImageNet weights for ResNet-18/34/50/101/152, one `WeightSpec` per file.

Every number here is the publisher's own, copied from its source as cited in `source`:
- torchvision 0.28.0, torchvision/models/resnet.py (the release that matches the pinned torch
  2.13.0): each `ResNet*_Weights` entry's url, `transforms` (ImageClassification: resize 256
  by default, 232 for the V2 recipe, crop 224, bilinear), `_metrics` (acc@1 / acc@5) and
  `_file_size` (MiB). The sha256 prefix is the one in the file name, which torch.hub checks.
  Layout: torchvision's Bottleneck strides its 3x3 conv (v1.5). Licence: BSD-3-Clause, the
  licence torchvision is published under.
- keras.applications (keras 3.15, keras/src/applications/resnet.py): BASE_WEIGHTS_PATH, file
  names and the md5 pairs in WEIGHTS_HASHES (with / without the top); accuracy and size from
  the table at keras.io/api/applications (which states a 224 centre crop but no resize: the
  specs record the paper's standard 256 -> 224 view). These are the paper's own Caffe models
  (github.com/KaimingHe/deep-residual-networks, MIT licence), the v1 layout.
"""

from __future__ import annotations

from keras_resnet.hub.specs import WeightSpec

TORCHVISION = "https://download.pytorch.org/models/"
TV_SOURCE = "torchvision 0.28.0 torchvision/models/resnet.py ResNet{depth}_Weights.IMAGENET1K_{v}"
TV_LICENSE = "BSD-3-Clause (torchvision)"
KERAS = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
KERAS_SOURCE = "keras 3.15 keras/src/applications/resnet.py WEIGHTS_HASHES; accuracy: keras.io/api/applications"
KERAS_LICENSE = "MIT (KaimingHe/deep-residual-networks)"

# depth: (file hash, acc@1, acc@5, MiB) of torchvision's IMAGENET1K_V1 and IMAGENET1K_V2.
_TV_V1 = {
    18: ("f37072fd", 69.758, 89.078, 44.661),
    34: ("b627a593", 73.314, 91.420, 83.275),
    50: ("0676ba61", 76.130, 92.862, 97.781),
    101: ("63fe2227", 77.374, 93.546, 170.511),
    152: ("394f9c45", 78.312, 94.046, 230.434),
}
_TV_V2 = {
    50: ("11ad3fa6", 80.858, 95.434, 97.79),
    101: ("cd907fc2", 81.886, 95.780, 170.53),
    152: ("f82ba261", 82.284, 96.002, 230.474),
}
# depth: (md5 with top, md5 without, top-1, top-5, MB) of keras.applications' ResNet{depth}.
_KERAS = {
    50: ("2cb95161c43110f7111970584f804107", "4d473c1dd8becc155b73f8504c6f6626", 74.9, 92.1, 98),
    101: ("f1aeb4b969a6efcfb50fad2f0c20cfc5", "88cf7a10940856eca736dc7b7e228a21", 76.4, 92.8, 171),
    152: ("100835be76be38e30d865e96f2aaae62", "ee4c566cf9a93f14d82f913c2dc6dd0c", 76.6, 93.1, 232),
}


def _torchvision(depth: int, version: int, facts) -> WeightSpec:
    file_hash, top1, top5, size = facts
    # V1 was trained with torchvision's simple recipe and evaluated at 256 -> 224; V2's new
    # recipe at 232 -> 224 (torchvision issue 3995).
    return WeightSpec(
        tag=f"resnet{depth}.tv{'' if version == 1 else '2'}_in1k",
        model=f"resnet{depth}",
        url=f"{TORCHVISION}resnet{depth}-{file_hash}.pth",
        file_hash=file_hash,
        layout="v1.5",
        normalization="torch",
        resize=256 if version == 1 else 232,
        size_mb=size,
        top1=top1,
        top5=top5,
        license=TV_LICENSE,
        source=TV_SOURCE.format(depth=depth, v=version),
        description=f"torchvision IMAGENET1K_V{version}",
    )


def _keras(depth: int, top: bool, facts) -> WeightSpec:
    md5_top, md5_notop, top1, top5, size = facts
    suffix = "" if top else "_notop"
    return WeightSpec(
        tag=f"resnet{depth}.keras_in1k{suffix}",
        model=f"resnet{depth}",
        url=f"{KERAS}resnet{depth}_weights_tf_dim_ordering_tf_kernels{suffix}.h5",
        file_hash=md5_top if top else md5_notop,
        layout="v1",
        normalization="caffe",
        num_classes=1000 if top else None,
        size_mb=size if top else None,
        top1=top1 if top else None,
        top5=top5 if top else None,
        license=KERAS_LICENSE,
        source=KERAS_SOURCE,
        description="keras.applications: the paper's Caffe model" + (", no top" if not top else ""),
    )


def published() -> list[WeightSpec]:
    specs = [_torchvision(d, 1, f) for d, f in _TV_V1.items()]
    specs += [_torchvision(d, 2, f) for d, f in _TV_V2.items()]
    specs += [_keras(d, top, f) for d, f in _KERAS.items() for top in (True, False)]
    return specs


# weights="imagenet": the paper's own models where they exist (they fill the paper's v1
# layout, create_model's default), torchvision's V1 for the basic-block depths that have none.
IMAGENET_DEFAULTS = {
    "resnet18": "resnet18.tv_in1k",
    "resnet34": "resnet34.tv_in1k",
    "resnet50": "resnet50.keras_in1k",
    "resnet101": "resnet101.keras_in1k",
    "resnet152": "resnet152.keras_in1k",
}
