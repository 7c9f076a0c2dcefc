"""Pixel conventions shared by every layer that touches images: the test-time view (`views`:
resize, antialiasing, crop), the input normalisations of each source of weights
(`normalization`: the paper's mean, Caffe, torchvision) and class names (`classes`: ImageNet's
1000 names, shipped with the package).

It sits below both `keras_resnet.models` (converted weights record their normalisation) and
`keras_resnet.data` (training), so that training, evaluation and export share one definition;
it imports neither.
"""
