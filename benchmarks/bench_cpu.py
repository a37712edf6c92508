"""CPU speed of the diffusion family per training step and per sampled row, against the machine's
bound and, where given, against the public TabSyn code on the same rows, batch and CPU.

For each stage (``tab_vae``, ``img_vae``, ``edm``, ``tabddpm`` training steps; ``sample``: EDM
sampling, 50 Heun steps) it times our step on NSL-KDD's MAGE-ID training rows (24,000) at the
profile's batch, and prints and writes ``figures/tables/bench_cpu.csv`` with the columns
``model,stage,device,dtype,batch,seconds_per_step,bound_seconds_per_step,ratio_to_bound``.

The bound of a step is the larger of
* its multiply-adds (counted by ``torch.utils.flop_counter`` on one forward + backward, or one
  sampling network evaluation x the evaluations) at the matmul rate measured interleaved with
  the stage's own steps (a 4096^3 matmul in that dtype, on the same threads, timed between them:
  the machine's speed drifts by up to ~25 % between minutes, and a rate measured once at the
  start moved the TabVAE's ratio by 0.4), and
* the bytes it must move at the memory bandwidth measured in the same run (a 512 MiB copy):
  the tensors autograd saves for the backward pass, written once and read once, plus the
  parameters, gradients and Adam's two moments, each read and written once.
Both are printed. ``ratio_to_bound`` = measured / bound (1 = at the machine's limit). A training
step is timed as :data:`RUN` steps back to back, as a fit runs them, between two probes.

With ``--reference DIR`` (a work tree of github.com/amazon-science/tabsyn; fetched to read and
run beside ours, never committed) the reference's own model code is timed interleaved with ours
(one step of each in turn, median of ``--repeats``): its ``Model_VAE`` + ``compute_loss`` +
Adam for ``tab_vae``, its ``MLPDiffusion`` + EDM ``Model`` + Adam for ``edm`` (fp32, as it runs on
a CPU), its ``sample`` for ``sample``. The ours/reference ratios go to
``figures/tables/bench_cpu_reference.csv`` (``stage,ours_s,reference_s,ours_over_reference``).
Not a test: a script.

    PYTHONPATH=lib python benchmarks/bench_cpu.py --reference /tmp/tabsyn_ref --threads 2
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import pandas as pd
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from idsynth.config import figures_dir, get_profile
from idsynth.data.mageid_sets import nslkdd_mageid_set
from idsynth.models import narrow_kernels
from idsynth.models.edm import EDMLoss, LatentEDM, edm_sampler
from idsynth.models.img_vae import ConvVAENet, img_vae_losses
from idsynth.experiments.mageid_train import make_generator
from idsynth.models.mageid import mageid
from idsynth.models.tab_vae import TabVAENet
from idsynth.models.tabddpm import TabDDPM
from idsynth.models.training import autocast_bf16, cpu_has_fast_bf16, keep_freed_memory, make_adam

COLUMNS = ["model", "stage", "device", "dtype", "batch", "seconds_per_step", "bound_seconds_per_step", "ratio_to_bound"]
STAGES = ("tab_vae", "img_vae", "edm", "sample", "tabddpm")


def timed_dtypes() -> tuple[tuple[str, bool], ...]:
    """``(dtype, bf16)`` pairs the mixed-precision stages are timed in: bf16 and fp32 where the CPU
    has native bf16 matmuls, else fp32 alone (the models' autocast is off there: a "bf16" row would
    time fp32 steps against an emulated bf16 matmul, ~100x slower than fp32 on a Zen 3 core)."""
    return (("bf16", True), ("fp32", False)) if cpu_has_fast_bf16() else (("fp32", False),)


# -- the machine ---------------------------------------------------------------------------------
def matmul_rate(dtype: torch.dtype, size: int = 4096, repeats: int = 3) -> float:
    """Multiply-adds per second of a ``size``^3 matmul in ``dtype`` (best of ``repeats``)."""
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    torch.mm(a, b)
    best = min(_seconds(lambda: torch.mm(a, b)) for _ in range(repeats))
    return size**3 / best


def copy_bandwidth(mib: int = 512, repeats: int = 3) -> float:
    """Bytes per second moved by a large tensor copy (read + write counted)."""
    src = torch.ones(mib << 18)  # float32: 4 bytes each
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = min(_seconds(lambda: dst.copy_(src)) for _ in range(repeats))
    return 2 * src.numel() * 4 / best


PROBE = 4096  # side of the matmul timed beside each stage


def matmul_probe(dtype: torch.dtype) -> Callable[[], object]:
    """One ``PROBE``^3 matmul in ``dtype``: timed interleaved with a stage's steps, its rate is the
    bound's (``PROBE ** 3 / seconds`` multiply-adds per second)."""
    a, b = torch.randn(PROBE, PROBE).to(dtype), torch.randn(PROBE, PROBE).to(dtype)
    return lambda: torch.mm(a, b)


def _seconds(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


# -- counting what a step must do --------------------------------------------------------------
def count_step(step: Callable[[], object], params: list[torch.nn.Parameter],
               plain_ffn: bool = False) -> tuple[float, float]:
    """(multiply-adds, bytes) of one call of ``step`` (forward + backward), from two calls:

    * multiply-adds: matmul FLOPs / 2 from ``FlopCounterMode`` on the PyTorch path (the counter
      cannot see inside idsynth's C++ kernels, ``narrow_kernels.disabled``), attention written
      as its matmuls (it has no formula for the CPU flash-attention kernels) and, with ``plain_ffn``,
      the TabVAE's FFN as its two plain layers (the model's own work, without the chunked
      version's backward recompute);
    * bytes: 2 x the tensors autograd saves for the backward pass of the step as it runs, plus
      2 x 4 tensors per parameter (weight, gradient, two Adam moments, each read and written).
    """
    saved = [0]

    def pack(t: torch.Tensor):
        saved[0] += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        step()
    with FlopCounterMode(display=False) as counter, _countable_attention(), narrow_kernels.disabled(), \
            (_plain_ffn() if plain_ffn else contextlib.nullcontext()):
        step()
    param_bytes = sum(p.numel() * p.element_size() for p in params)
    return counter.get_total_flops() / 2, 2 * saved[0] + 8 * param_bytes


@contextlib.contextmanager
def _countable_attention():
    """``F.scaled_dot_product_attention`` written as matmuls while counting: the flop counter
    has no formula for the CPU flash-attention kernels (it would count 0 for them)."""
    fused = F.scaled_dot_product_attention

    def explicit(q, k, v, *args, **kwargs):
        weights = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1)
        return weights @ v

    F.scaled_dot_product_attention = explicit
    try:
        yield
    finally:
        F.scaled_dot_product_attention = fused


@contextlib.contextmanager
def _plain_ffn():
    """The TabVAE's FFN as the plain two layers (what the chunked one computes, recompute aside)."""
    import idsynth.models.tab_vae as tab_vae

    chunked = tab_vae.chunked_ffn
    tab_vae.chunked_ffn = lambda x, first, second: second(torch.relu(first(x)))
    try:
        yield
    finally:
        tab_vae.chunked_ffn = chunked


#: Training steps timed back to back per sample, as a fit runs them: a lone step right after the
#: probe's 4096^3 matmul (128 MiB of operands) starts with every cache cold, which a fit's steps
#: never do (measured: the TabVAE's step 0.072 s back to back, 0.076-0.081 s alone between probes,
#: 2 threads).
RUN = 3


def timed_median(fns: dict[str, Callable[[], object]], repeats: int, run: dict[str, int] | None = None) -> dict[str, float]:
    """Median seconds per call of each function, the functions sampled in turn (interleaved)
    ``repeats`` times after one warm-up; ``run`` maps a name to how many calls of it are timed
    back to back per sample (default 1)."""
    run = run or {}
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            calls = int(run.get(name, 1))
            times[name].append(_seconds(lambda: [fn() for _ in range(calls)]) / calls)
    return {name: statistics.median(values) for name, values in times.items()}


def steps(*names: str) -> dict[str, int]:
    """:data:`RUN` back-to-back calls per sample for each of ``names`` (training steps)."""
    return {name: RUN for name in names}


# -- our steps -------------------------------------------------------------------------------------
def train_step(net: torch.nn.Module, loss: Callable[[], torch.Tensor], bf16: bool) -> tuple[Callable[[], None], Callable[[], None]]:
    """(full step with Adam, forward + backward only) for ``loss()`` of ``net``."""
    optimiser = make_adam(net.parameters(), 1e-4, 0.0, torch.device("cpu"))  # as the models' fits

    def forward_backward():
        with autocast_bf16(torch.device("cpu"), bf16, cache_enabled=False):
            value = loss()
        value.backward()

    def step():
        forward_backward()
        optimiser.step()
        optimiser.zero_grad(set_to_none=True)

    return step, forward_backward


def stage_inputs(n_rows: int):
    """NSL-KDD's MAGE-ID training rows as the models see them (scaled numerics, codes + label, images)."""
    data = nslkdd_mageid_set(n_rows=n_rows)
    X, y = data.xy("train")
    model = mageid(device="cpu", verbose=False)
    model._fit_encoders(X, y)
    return model.paired(X, y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=30000, help="MAGE-ID set rows (the model trains on 80 %%)")
    parser.add_argument("--sample-rows", type=int, default=2048)
    parser.add_argument("--reference", type=Path, default=None, help="work tree of amazon-science/tabsyn")
    parser.add_argument("--profile", default="paper", help="profile whose batch sizes and architectures are timed")
    parser.add_argument("--out", type=Path, default=None, help="tables folder (default: figures/tables)")
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES, help="stages timed (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    keep_freed_memory()
    # the profile's MAGE-ID as the notebooks build it (its parts over its recipe's: a profile leaves
    # arguments such as the image latent to the recipe)
    built = make_generator(get_profile(args.profile)["mageid"], seed=0, device="cpu", verbose=False)
    tv, iv, ev = built.tab_vae, built.img_vae, built.edm
    want = set(args.stages)
    ddpm = dict(get_profile(args.profile)["tabddpm"])

    # the rate of each dtype a stage is timed in (bf16 only for the mixed-precision stages, where the CPU has it)
    dtypes = {"fp32", *(dtype for dtype, _ in timed_dtypes() if want & {"edm", "sample", "tabddpm"})}
    rates = {dtype: matmul_rate(torch.bfloat16 if dtype == "bf16" else torch.float32) for dtype in sorted(dtypes, reverse=True)}
    bandwidth = copy_bandwidth()
    print(f"machine: {args.threads} threads; matmul " + ", ".join(f"{rate / 1e9:.1f} G multiply-adds/s {dtype}"
          for dtype, rate in rates.items()) + f"; copy bandwidth {bandwidth / 1e9:.1f} GB/s; narrow kernels' lanes "
          f"{narrow_kernels.lanes()}", flush=True)

    samples = stage_inputs(args.rows)
    cards = list(samples.cat_cardinalities)
    rows, reference_rows = [], []

    def record(stage: str, dtype: str, batch: int, seconds: float, macs: float, nbytes: float, per: str = "step",
               matmul_seconds: float | None = None):
        rate = PROBE**3 / matmul_seconds if matmul_seconds else rates[dtype]
        compute, memory = macs / rate, nbytes / bandwidth
        bound = max(compute, memory)
        print(f"{stage:8s} {dtype} batch {batch:5d}: {seconds:.4f} s/{per}; bound {bound:.4f} s "
              f"(compute {compute:.4f} s for {macs / 1e9:.2f} G multiply-adds, memory {memory:.4f} s for "
              f"{nbytes / 1e9:.2f} GB; matmul {rate / 1e9:.1f} G/s) -> ratio {seconds / bound:.2f}", flush=True)
        rows.append({"model": "idsynth", "stage": stage, "device": "cpu", "dtype": dtype, "batch": batch,
                     "seconds_per_step": seconds, "bound_seconds_per_step": bound, "ratio_to_bound": seconds / bound})

    ref = Reference(args.reference) if args.reference else None

    # TabVAE: fp32 (bf16 measured slower for 4-wide tokens)
    if "tab_vae" in want:
        tab_vae_stage(samples, cards, tv, ref, args.repeats, record, reference_rows)
    if "img_vae" in want:
        img_vae_stage(samples, iv, args.repeats, record)
    # EDM on the joint latent (NSL-KDD: 42 tokens x 4 + the image latent's dimensions), bf16 and fp32
    dim = (samples.X_num.shape[1] + len(cards)) * int(tv["d_token"]) + int(iv["latent_dim"])
    edm = LatentEDM(dim=dim, hidden=ev["hidden"], n_layers=ev["n_layers"], device="cpu", verbose=False)
    denoiser = edm._build_denoiser(dim, 2, torch.device("cpu")).train()
    if "edm" in want:
        edm_stage(samples, denoiser, dim, ev, ref, args.repeats, record, reference_rows)
    if "sample" in want:
        sample_stage(samples, denoiser, dim, ev, ref, args.repeats, args.sample_rows, record, reference_rows)
    if "tabddpm" in want:
        # TabDDPM (no reference run here: yandex-research/tab-ddpm is another code base)
        for dtype, bf16 in timed_dtypes():
            seconds, macs, nbytes, batch, matmul_seconds = tabddpm_step(samples, ddpm, bf16, args.repeats)
            record("tabddpm", dtype, batch, seconds, macs, nbytes, matmul_seconds=matmul_seconds)

    out = args.out or figures_dir("paper") / "tables"
    out.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rows, columns=COLUMNS)
    table.to_csv(out / "bench_cpu.csv", index=False, float_format="%.6g")
    print(f"wrote {out / 'bench_cpu.csv'}")
    if reference_rows:
        ref_table = pd.DataFrame(reference_rows, columns=["stage", "ours_s", "reference_s"])
        ref_table["ours_over_reference"] = ref_table["ours_s"] / ref_table["reference_s"]
        ref_table.to_csv(out / "bench_cpu_reference.csv", index=False, float_format="%.6g")
        print(ref_table.to_string(index=False))


def tab_vae_stage(samples, cards, tv, ref, repeats: int, record, reference_rows: list) -> None:
    """One TabVAE training step (fp32) at the profile's batch, interleaved with the reference's."""
    n = len(samples.y)
    batch = min(int(tv["batch_size"]), n)
    x_num = torch.from_numpy(samples.X_num[:batch].copy())
    x_cat = torch.from_numpy(samples.X_cat[:batch].copy())
    net = TabVAENet(x_num.shape[1], cards, tv["d_token"], tv["n_heads"], tv["n_layers"], tv["d_ff"])
    step, fb = train_step(net, lambda: _tab_vae_loss(net, x_num, x_cat), bf16=False)
    fns = {"ours": step, "matmul": matmul_probe(torch.float32)}
    if ref:
        fns["reference"] = ref.tab_vae_step(x_num, x_cat, cards, tv)
    times = timed_median(fns, repeats, steps("ours", "reference"))
    record("tab_vae", "fp32", batch, times["ours"], *count_step(fb, list(net.parameters()), plain_ffn=True),
           matmul_seconds=times["matmul"])
    if ref:
        reference_rows.append(("tab_vae", times["ours"], times["reference"]))


def img_vae_stage(samples, iv, repeats: int, record) -> None:
    """One ImageVAE training step (fp32) at the profile's batch."""
    images = torch.from_numpy(samples.images[: min(int(iv["batch_size"]), len(samples.y))].copy())
    img_net = mageid_image_net(samples, iv)
    step, fb = train_step(img_net, lambda: _img_vae_loss(img_net, images), bf16=False)
    times = timed_median({"ours": step, "matmul": matmul_probe(torch.float32)}, repeats, steps("ours"))
    record("img_vae", "fp32", len(images), times["ours"], *count_step(fb, list(img_net.parameters())),
           matmul_seconds=times["matmul"])


def edm_stage(samples, denoiser, dim: int, ev, ref, repeats: int, record, reference_rows: list) -> None:
    """One EDM training step on ``dim``-wide latents, bf16 and fp32 (the reference's beside bf16)."""
    batch = min(int(ev["batch_size"]), len(samples.y))
    z = torch.randn(batch, dim) * 0.5
    labels = torch.from_numpy(samples.y[:batch].copy())
    loss_fn = EDMLoss()
    for dtype, bf16 in timed_dtypes():
        step, fb = train_step(denoiser, lambda: loss_fn(denoiser, z, labels).mean(), bf16=bf16)
        fns = {"ours": step, "matmul": matmul_probe(torch.bfloat16 if bf16 else torch.float32)}
        if ref and dtype == "bf16":
            fns["reference"] = ref.edm_step(z, ev)
        times = timed_median(fns, repeats, steps("ours", "reference"))
        record("edm", dtype, batch, times["ours"], *count_step(fb, list(denoiser.parameters())),
               matmul_seconds=times["matmul"])
        if "reference" in times:
            reference_rows.append(("edm", times["ours"], times["reference"]))


def sample_stage(samples, denoiser, dim: int, ev, ref, repeats: int, sample_rows: int, record,
                 reference_rows: list) -> None:
    """Sampling: the profile's Heun steps (2 n - 1 network evaluations), seconds per row, in the
    first of :func:`timed_dtypes` (as a fit samples)."""
    dtype, bf16 = timed_dtypes()[0]
    probe_dtype = torch.bfloat16 if bf16 else torch.float32
    denoiser.eval()
    latents = torch.randn(sample_rows, dim)
    codes = torch.from_numpy(samples.y[:sample_rows].copy())
    num_steps = int(ev["num_steps"])

    @torch.no_grad()
    def sample_ours():
        with autocast_bf16(torch.device("cpu"), bf16):
            edm_sampler(denoiser, latents, codes, num_steps=num_steps)

    fns = {"ours": sample_ours, "matmul": matmul_probe(probe_dtype)}
    if ref:
        fns["reference"] = ref.sample(sample_rows, dim, ev)
    times = timed_median(fns, max(2, repeats // 2))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        denoiser(latents, torch.full((sample_rows,), 1.0), codes)
    evaluations = 2 * num_steps - 1
    macs = counter.get_total_flops() / 2 * evaluations
    width = torch.finfo(probe_dtype).bits // 8
    nbytes = evaluations * sum(p.numel() * width for p in denoiser.parameters())  # weights read per evaluation
    record("sample", dtype, sample_rows, times["ours"] / sample_rows, macs / sample_rows,
           nbytes / sample_rows, per="row", matmul_seconds=times["matmul"])
    if ref:
        reference_rows.append(("sample", times["ours"] / sample_rows, times["reference"] / sample_rows))


def _tab_vae_loss(net, x_num, x_cat) -> torch.Tensor:
    mse, ce, kl = net.training_losses(x_num, x_cat)  # what TabVAE.fit runs
    return mse + ce + 1e-2 * kl


def _img_vae_loss(net, images) -> torch.Tensor:
    mse, kl = img_vae_losses(images, *net(images))
    return mse + 1e-3 * kl


def mageid_image_net(samples, section) -> ConvVAENet:
    from idsynth.models.img_vae import ImageVAE

    size = samples.image_shape[1]
    vae = ImageVAE(size, samples.image_shape[0], latent_dim=int(section["latent_dim"]), widths=section["widths"])
    return vae._build_net()


def tabddpm_step(samples, section: dict, bf16: bool, repeats: int) -> tuple[float, float, float, int, float]:
    """(median seconds, multiply-adds, bytes, batch, median seconds of the interleaved matmul
    probe) of a TabDDPM training step (its loss: the Gaussian and multinomial diffusions on one
    drawn timestep) on batches shaped as the same rows."""
    frame = pd.DataFrame(samples.X_num, columns=[f"n{i}" for i in range(samples.X_num.shape[1])])
    for j in range(samples.X_cat.shape[1] - 1):
        frame[f"c{j}"] = samples.X_cat[:, j].astype(str)
    params = {k: v for k, v in section.items() if k in TabDDPM().get_params()}
    model = TabDDPM(**{**params, "steps": 1, "mixed_precision": bf16}, device="cpu", verbose=False)
    model.fit(frame, samples.y)  # builds the network and the diffusions for these columns
    batch = min(int(section["batch_size"]), len(frame))
    rng = torch.Generator().manual_seed(0)
    x_num = torch.randn(batch, model.n_numeric_, generator=rng)
    x_cat = torch.stack([torch.randint(0, size, (batch,), generator=rng) for size in model.category_sizes_], 1)
    y = torch.from_numpy(samples.y[:batch].copy())
    net, diffusion = model.net_.train(), model.diffusion_
    step, fb = train_step(net, lambda: sum(diffusion.loss(net, x_num, x_cat, y, rng)), bf16=bf16)
    times = timed_median({"ours": step, "matmul": matmul_probe(torch.bfloat16 if bf16 else torch.float32)}, repeats,
                         steps("ours"))
    macs, nbytes = count_step(fb, list(net.parameters()))
    return times["ours"], macs, nbytes, batch, times["matmul"]


class Reference:
    """The public TabSyn code's model pieces, imported from its work tree (not part of idsynth)."""

    def __init__(self, root: Path):
        sys.path.insert(0, str(root))
        from tabsyn.diffusion_utils import sample as reference_sample
        from tabsyn.model import MLPDiffusion, Model
        from tabsyn.vae.model import Model_VAE

        self._sample, self._MLPDiffusion, self._Model, self._Model_VAE = reference_sample, MLPDiffusion, Model, Model_VAE
        # Its loss, as its VAE training script defines it. The script imports the repository's
        # data utilities (``src``, which needs packages the loss does not use): an empty stand-in
        # module, whose every name is ``object``, is enough for the import.
        import types

        stand_in = types.ModuleType("src")
        def any_name(name: str):  # the names it uses only in annotations
            if name.startswith("__"):
                raise AttributeError(name)
            return object

        stand_in.__getattr__ = any_name
        sys.modules.setdefault("src", stand_in)
        try:
            from tabsyn.vae.main import compute_loss
        except ImportError:
            compute_loss = None
        self._compute_loss = compute_loss
        self._edm = None

    def tab_vae_step(self, x_num, x_cat, cards, section) -> Callable[[], None]:
        model = self._Model_VAE(section["n_layers"], x_num.shape[1], cards, section["d_token"],
                                n_head=section["n_heads"], factor=section["d_ff"] // section["d_token"], bias=True)
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
        if self._compute_loss is None:
            raise SystemExit("the reference's tabsyn/vae/main.py could not be imported (its utils_train / src)")

        def step():
            recon_num, recon_cat, mu, logvar = model(x_num, x_cat)
            mse, ce, kl, _ = self._compute_loss(x_num, x_cat, recon_num, recon_cat, mu, logvar)
            (mse + ce + 1e-2 * kl).backward()
            optimiser.step()
            optimiser.zero_grad(set_to_none=True)

        return step

    def edm_step(self, z, section) -> Callable[[], None]:
        denoise = self._MLPDiffusion(z.shape[1], section["hidden"])
        self._edm = self._Model(denoise_fn=denoise, hid_dim=z.shape[1])
        optimiser = torch.optim.Adam(self._edm.parameters(), lr=1e-3)

        def step():
            self._edm(z).backward()
            optimiser.step()
            optimiser.zero_grad(set_to_none=True)

        return step

    def sample(self, n_rows: int, dim: int, section) -> Callable[[], None]:
        if self._edm is None:
            self.edm_step(torch.zeros(2, dim), section)
        net = self._edm.denoise_fn_D.eval()
        return lambda: self._sample(net, n_rows, dim, num_steps=int(section["num_steps"]), device="cpu")


if __name__ == "__main__":
    main()
