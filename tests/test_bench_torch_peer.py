"""The PyTorch peer's tuned inference graphs compute what the eager net computes, in the
precision asked for, on a tiny conv-BN-ReLU net (seconds); and each setting is named."""

import pytest

from keras_resnet.bench import torch_peer
from tests.optional import importorskip

torch = importorskip("torch", "torch")


def _net():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 4),
    )
    with torch.no_grad():  # BN statistics that are not the identity, so folding them matters
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
    x = torch.randn(2, 3, 16, 16).to(memory_format=torch.channels_last)
    return net.eval().to(memory_format=torch.channels_last), x


def test_frozen_graph_matches_eager_in_float32():
    net, x = _net()
    graph = torch_peer.inference_fn(net, x, graph="jit", bf16=False)
    assert isinstance(graph, torch.jit.ScriptModule)
    # Frozen: BN is folded away, no batch_norm op is left in the graph.
    assert "batch_norm" not in str(graph.graph)
    with torch.inference_mode():
        torch.testing.assert_close(graph(x), net(x), rtol=1e-4, atol=1e-5)


def test_bf16_graph_is_traced_under_autocast():
    net, x = _net()
    graph = torch_peer.inference_fn(net, x, graph="jit", bf16=True)
    assert "BFloat16" in str(graph.graph)  # the casts autocast made are in the graph
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        got, want = graph(x).float(), net(x).float()
    torch.testing.assert_close(got, want, rtol=5e-2, atol=5e-2)
    with torch.inference_mode():  # and it is not float32: bf16 rounding shows
        assert not torch.equal(got, net(x))


def test_configurations_are_named_and_bad_graphs_refused():
    assert torch_peer.configuration(train=False, bf16=False, graph="jit") == (
        "channels_last, inference_mode, jit.trace + jit.freeze + jit.optimize_for_inference, "
        "float32"
    )
    assert torch_peer.configuration(train=True, bf16=True) == "channels_last, autocast(bfloat16)"
    assert torch_peer.inference_graphs(quick=True) == ["jit", "eager"]
    with pytest.raises(ValueError, match="got 'tensorrt'"):
        torch_peer.configuration(train=False, bf16=False, graph="tensorrt")
    net, x = _net()
    with pytest.raises(ValueError, match="got 'tensorrt'"):
        torch_peer.inference_fn(net, x, graph="tensorrt", bf16=False)


@pytest.mark.slow  # inductor compiles C++ for the net: ~20 s on 2 cores
def test_compiled_graph_matches_eager():
    why = torch_peer.compiler_works()
    if why:
        pytest.skip(f"torch.compile {why}")
    net, x = _net()
    compiled = torch_peer.inference_fn(net, x, graph="compile", bf16=False)
    with torch.inference_mode():
        torch.testing.assert_close(compiled(x), net(x), rtol=1e-4, atol=1e-5)
    assert "compile" in torch_peer.inference_graphs(quick=False)
