"""Shared training utilities: device batches, loss sums, checkpoints, seeding, validation."""

import os
import sys

import numpy as np
import pytest
import torch

from idsynth.models.training import (
    DeviceBatches,
    LossAccumulator,
    batched_apply,
    check_float_array,
    gaussian_kl,
    keep_freed_memory,
    load_checkpoint,
    make_adam,
    make_generator,
    save_checkpoint,
    seeded_init,
)


def test_device_batches_cover_every_row_once_per_epoch():
    x = torch.arange(10)
    y = torch.arange(10) * 10
    batches = DeviceBatches(x, y, batch_size=4, generator=make_generator(0, "cpu"))
    assert len(batches) == 3
    epoch1 = list(batches)
    assert [len(b[0]) for b in epoch1] == [4, 4, 2]
    for xb, yb in epoch1:
        torch.testing.assert_close(yb, xb * 10)  # rows stay paired
    order1 = torch.cat([b[0] for b in epoch1])
    order2 = torch.cat([b[0] for b in batches])
    assert sorted(order1.tolist()) == list(range(10)) and sorted(order2.tolist()) == list(range(10))
    assert order1.tolist() != order2.tolist()  # a fresh permutation each epoch
    again = torch.cat([b[0] for b in DeviceBatches(x, y, batch_size=4, generator=make_generator(0, "cpu"))])
    assert again.tolist() == order1.tolist()  # same seed, same order


def test_device_batches_without_shuffle_and_errors():
    x = torch.arange(5)
    assert [b[0].tolist() for b in DeviceBatches(x, batch_size=2, shuffle=False)] == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="same number of rows"):
        DeviceBatches(x, torch.arange(4), batch_size=2, generator=make_generator(0, "cpu"))
    with pytest.raises(ValueError, match="generator"):
        DeviceBatches(x, batch_size=2)
    with pytest.raises(ValueError, match="batch_size"):
        DeviceBatches(x, batch_size=0, shuffle=False)


def test_loss_accumulator_weights_by_rows():
    acc = LossAccumulator()
    acc.add(3, a=torch.tensor(1.0), b=torch.tensor(2.0))
    acc.add(1, a=torch.tensor(5.0), b=torch.tensor(2.0))
    assert acc.means() == pytest.approx({"a": 2.0, "b": 2.0})


def test_gaussian_kl_known_values():
    zero = torch.zeros(4, 3)
    assert gaussian_kl(zero, zero).item() == pytest.approx(0.0)
    # KL(N(1, 1) || N(0, 1)) = 1/2 per coordinate
    assert gaussian_kl(torch.ones(4, 3), zero).item() == pytest.approx(0.5)
    # KL(N(0, e) || N(0, 1)) = (e - 1 - 1) / 2
    assert gaussian_kl(zero, torch.ones(4, 3)).item() == pytest.approx((np.e - 2) / 2)


def test_seeded_init_is_reproducible_and_restores_the_global_rng():
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    with seeded_init(7):
        a = torch.nn.Linear(3, 2).weight.detach().clone()
    assert torch.equal(torch.rand(3), expected_next)
    with seeded_init(7):
        b = torch.nn.Linear(3, 2).weight.detach().clone()
    assert torch.equal(a, b)


def test_batched_apply_matches_one_pass():
    x = torch.randn(11, 3)
    y = torch.randn(11, 3)
    out = batched_apply(lambda a, b: (a + b, a * b), x, y, batch_size=4)
    torch.testing.assert_close(out[0], x + y)
    torch.testing.assert_close(out[1], x * y)
    torch.testing.assert_close(batched_apply(torch.relu, x, batch_size=5), torch.relu(x))


def test_checkpoint_round_trip_and_kind_check(tmp_path):
    net = torch.nn.Linear(3, 2)
    path = tmp_path / "m.pt"
    save_checkpoint(path, kind="demo", config={"a": 1, "w": (2, 3)}, state_dict=net.state_dict(),
                    extra={"history": [{"loss": 0.5}]})
    payload = load_checkpoint(path, kind="demo")
    assert payload["config"] == {"a": 1, "w": (2, 3)} and payload["extra"]["history"] == [{"loss": 0.5}]
    assert torch.equal(payload["state_dict"]["weight"], net.weight.detach())
    with pytest.raises(ValueError, match="expected 'other'"):
        load_checkpoint(path, kind="other")
    torch.save({"weight": net.weight.detach()}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="not an idsynth checkpoint"):
        load_checkpoint(tmp_path / "plain.pt", kind="demo")


def test_make_adam_on_cpu_is_fused_and_steps_as_plain_adam():
    torch.manual_seed(0)
    fused_net, plain_net = torch.nn.Linear(30, 20), torch.nn.Linear(30, 20)
    plain_net.load_state_dict(fused_net.state_dict())
    fused = make_adam(fused_net.parameters(), 1e-3, 1e-4, torch.device("cpu"))
    plain = torch.optim.Adam(plain_net.parameters(), lr=1e-3, weight_decay=1e-4)
    assert fused.defaults.get("fused")
    start = [p.detach().clone() for p in fused_net.parameters()]
    for _ in range(5):
        for a, b in zip(fused_net.parameters(), plain_net.parameters()):
            a.grad = torch.randn_like(a)
            b.grad = a.grad.clone()
        fused.step()
        plain.step()
    for a, b, a0 in zip(fused_net.parameters(), plain_net.parameters(), start):
        assert not torch.equal(a, a0)
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_check_float_array():
    out = check_float_array("z", np.arange(6).reshape(3, 2), (2,))
    assert out.dtype == np.float32 and out.flags.c_contiguous
    with pytest.raises(ValueError, match=r"z must have shape \(n, 3\)"):
        check_float_array("z", np.zeros((3, 2)), (3,))
    with pytest.raises(TypeError, match="real numbers"):
        check_float_array("z", np.array([["a", "b"]]), (2,))
    with pytest.raises(ValueError, match="NaN"):
        check_float_array("z", np.array([[np.inf, 0.0]]), (2,))


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.environ.get("IDSYNTH_KEEP_FREED_MEMORY") == "0",
                    reason="glibc's allocator settings")
def test_keep_freed_memory_reuses_a_freed_block_without_page_faults():
    # a 64 MiB block freed and allocated again: glibc keeps it (no new page faults) once the
    # allocator is tuned; with a trim threshold of 0 (the old call's 4 GiB wrapped to a C int's 0)
    # each allocation faulted its 16,384 pages in again
    import resource

    keep_freed_memory()
    for _ in range(5):  # glibc settles its heap over the first few (measured: 3)
        block = torch.ones(16 << 20)  # 64 MiB of float32
        del block
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        block = torch.ones(16 << 20)
        del block
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 4096, f"{faults} page faults for 5 reallocations of a freed 64 MiB block"


def test_keep_freed_memory_leaves_the_allocator_alone_for_a_cuda_device(monkeypatch):
    import idsynth.models.training as training

    monkeypatch.setattr(training, "_ALLOCATOR_TUNED", False)
    keep_freed_memory("cuda")  # a CUDA loop: the host allocator is not what it exercises
    assert training._ALLOCATOR_TUNED is False
    monkeypatch.setenv("IDSYNTH_KEEP_FREED_MEMORY", "1")
    keep_freed_memory(torch.device("cpu"))
    assert training._ALLOCATOR_TUNED is True
