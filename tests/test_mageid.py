"""MAGE-ID / TabSyn: every stage's shapes and dtypes, sampling contract, TabSyn configuration,
persistence, determinism, learning of the class condition, bad input; plain-state storage."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.preprocessing import QuantileTransformer

from idsynth.data.encoding import TabularEncoder
from idsynth.imaging import TabularImager
from idsynth.models.base import Generator
from idsynth.models.mageid import LABEL_COLUMN, MAGEID, TABSYN_EDM, mageid, tabsyn
from idsynth.models.plain_state import from_plain, to_plain

pytestmark = pytest.mark.usefixtures("one_thread")




def toy_frame(n=240, seed=0):
    """Mixed typed rows whose class shows in a numeric column (``a``) and a category (``proto``)."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 4 == 0).astype(np.int64)  # 1 in 4 rows is "attack"
    X = pd.DataFrame({
        "a": rng.normal(size=n) + 4.0 * y,
        "proto": np.where(y == 1, "tcp", rng.choice(["udp", "icmp"], n)),
        "cnt": rng.integers(0, 50, n) + 30 * y,
        "f32": rng.random(n).astype(np.float32),
        "flag": rng.choice(["S0", "SF"], n),
    })  # fmt: skip
    return X, y


TINY = dict(
    tab_vae=dict(d_token=4, n_layers=1, d_ff=32, epochs=100, batch_size=120, learning_rate=5e-3),
    img_vae=dict(latent_dim=4, widths=(8,), epochs=4, batch_size=120),
    edm=dict(hidden=64, n_layers=1, epochs=150, batch_size=120, num_steps=8, learning_rate=2e-3, ema_decay=None),
    imager=dict(n_init=1, max_sweeps=10),
    device="cpu",
    verbose=False,
)


@pytest.fixture(scope="module")
def data():
    return toy_frame()


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return MAGEID(**TINY).fit(X, y)


@pytest.fixture(scope="module")
def fitted_tabsyn(data):
    X, y = data
    return tabsyn(**{k: v for k, v in TINY.items() if k not in ("img_vae", "imager")}).fit(X, y)


# -- stages ------------------------------------------------------------------------------------
def test_phase1_paired_samples(fitted, data):
    X, y = data
    samples = fitted.paired(X, y)
    assert samples.X_num.shape == (len(X), 3) and samples.X_num.dtype == np.float32
    # categoricals then the label column, as TabSyn appends it
    assert samples.cat_features == ("proto", "flag", LABEL_COLUMN)
    assert samples.cat_cardinalities == (3, 2, 2)
    np.testing.assert_array_equal(samples.X_cat[:, -1], y)
    # quantile-normal numerics (TabSyn's scaling): roughly centred, unit spread
    assert abs(samples.X_num.mean()) < 0.2 and 0.7 < samples.X_num.std() < 1.3
    # 3 numeric + 3 + 2 one-hot pixels -> the smallest square, 3 x 3
    assert samples.images.shape == (len(X), 1, 3, 3) and samples.images.dtype == np.float32
    assert samples.images.min() >= 0 and samples.images.max() <= 1


def test_stage1_and_stage2_shapes(fitted, data):
    X, y = data
    tab_dim = (3 + 3) * 4  # (numeric + categorical + label tokens) x d_token
    assert fitted.latent_slices_ == {"tabular": slice(0, tab_dim), "image": slice(tab_dim, tab_dim + 4)}
    assert fitted.latent_dim_ == tab_dim + 4
    z = fitted.encode(X[:10], y[:10])
    assert z.shape == (10, fitted.latent_dim_) and z.dtype == np.float32
    frame, images, decoded = fitted.decode(z)
    assert list(frame.columns) == list(X.columns) and (frame.dtypes == X.dtypes).all()
    assert images.shape == (10, 1, 3, 3) and decoded.shape == (10,)
    assert fitted.edm_.dim == fitted.latent_dim_ and fitted.edm_.conditional_
    assert set(fitted.fit_seconds_) == {"prepare", "tab_vae", "img_vae", "encode", "edm"}
    assert all(v >= 0 for v in fitted.fit_seconds_.values())
    histories = fitted.loss_histories()
    assert [len(histories[p]) for p in ("tab_vae", "img_vae", "edm")] == [100, 4, 150]
    assert list(fitted.describe()["part"]) == ["tab_vae", "img_vae", "edm"]


def test_sample_contract(fitted, data):
    X, _ = data
    assert isinstance(fitted, Generator)
    frame, y = fitted.sample({1: 7, 0: 5}, random_state=3)
    assert y.tolist() == [1] * 7 + [0] * 5
    assert list(frame.columns) == list(X.columns)
    assert frame.dtypes.to_dict() == X.dtypes.to_dict()
    assert set(frame["proto"]) <= {"tcp", "udp", "icmp"} and set(frame["flag"]) <= {"S0", "SF"}
    assert 0.0 <= fitted.label_agreement_ <= 1.0
    frame2, images, y2 = fitted.sample_multimodal({0: 4}, random_state=3)
    assert images.shape == (4, 1, 3, 3) and images.dtype == np.float32 and len(frame2) == 4
    assert images.min() >= 0 and images.max() <= 1


def test_class_condition_is_learnt(fitted):
    """Class 1 has a = N(4, 1) and proto = tcp; class 0 has a = N(0, 1), never tcp."""
    result = fitted.generate({0: 150, 1: 150}, random_state=0)
    frame, y = result.frame, result.y
    assert frame.loc[y == 1, "a"].mean() - frame.loc[y == 0, "a"].mean() > 2.0
    assert (frame.loc[y == 1, "proto"] == "tcp").mean() > 0.7
    assert (frame.loc[y == 0, "proto"] == "tcp").mean() < 0.3
    assert result.label_agreement > 0.8
    assert result.rows_per_second > 0 and result.z.shape == (300, fitted.latent_dim_)
    part = result.take([0, 299])
    assert part.y.tolist() == [0, 1] and part.images.shape[0] == 2 and len(part.frame) == 2
    pd.testing.assert_frame_equal(part.frame.iloc[[1]].reset_index(drop=True),
                                  result.frame.iloc[[299]].reset_index(drop=True))


def test_tabsyn_has_no_image_parts(fitted_tabsyn, data):
    X, y = data
    model = fitted_tabsyn
    assert model.modalities == ("tabular",) and not model.uses_images
    assert model.img_vae_ is None and model.imager_ is None and model.img_encoder_ is None
    assert "img_vae" not in model.fit_seconds_ and "img_vae" not in model.loss_histories()
    assert model.latent_dim_ == model.tab_vae_.latent_dim_ and list(model.latent_slices_) == ["tabular"]
    assert model.paired(X[:3], y[:3]).images.shape == (3, 1, 0, 0)
    frame, y_out = model.sample({0: 3, 1: 2}, random_state=0)
    assert len(frame) == 5 and frame.dtypes.to_dict() == X.dtypes.to_dict()
    with pytest.raises(ValueError, match="no image branch"):
        model.sample_multimodal({0: 2})
    # tabsyn() and MAGEID are the same class; the factory fills TabSyn's published defaults
    assert type(tabsyn()) is MAGEID and tabsyn().edm["hidden"] == TABSYN_EDM["hidden"] == 1024
    assert mageid().modalities == ("tabular", "image") and mageid().imager["layout"] == "igtd"
    # MAGE-ID's recipes: v1 is TabSyn's EDM (per-dimension scaling, LatentEDM's default), v2 global
    # scaling, v3 v2 with the small class table, v4 v3 with c_noise x 250, v6 (the default) v4 with a
    # 16-dimension image latent
    from idsynth.models.mageid import MAGEID_IMG_VAE, MAGEID_RECIPE, MAGEID_RECIPES
    assert MAGEID_RECIPE == "v6" and mageid().edm == {**TABSYN_EDM, "latent_scaling": "global", "class_init_std": 0.02,
                                                     "noise_label_scale": 250.0}
    assert mageid().img_vae == {**MAGEID_IMG_VAE, "latent_dim": 16} and MAGEID_IMG_VAE["latent_dim"] == 64
    assert mageid(recipe="v4").edm == mageid().edm and mageid(recipe="v4").img_vae == MAGEID_IMG_VAE
    assert mageid(recipe="v2").edm == {**TABSYN_EDM, "latent_scaling": "global"}
    assert tabsyn().edm == TABSYN_EDM  # TabSyn keeps its one recipe
    # v5, a candidate for over-sampling (not the default): v4 with class-balanced EDM minibatches
    v4 = mageid(recipe="v4")
    assert mageid(recipe="v5").edm == {**v4.edm, "class_balance": 0.5} and "class_balance" not in v4.edm
    assert mageid(recipe="v5").tab_vae == v4.tab_vae and mageid(recipe="v5").img_vae == v4.img_vae
    assert mageid(recipe="v1").edm == TABSYN_EDM and mageid(recipe="v1", edm={"epochs": 3}).edm["epochs"] == 3
    assert mageid(edm={"latent_scaling": "per_block"}).edm["latent_scaling"] == "per_block"
    assert all(set(parts) == {"tab_vae", "img_vae", "edm", "imager"} for parts in MAGEID_RECIPES.values())
    with pytest.raises(ValueError, match="unknown MAGE-ID recipe"):
        mageid(recipe="v0")


def test_no_profile_names_an_argument_in_which_the_recipes_differ():
    """:func:`mageid` merges the recipe's defaults, then the profile's section: a profile that wrote
    out an argument the recipes set differently (the image latent's size before recipe v6) would
    build that one model under every recipe's name, with another recipe's label and cache key."""
    from idsynth.config import PROFILES
    from idsynth.models.mageid import MAGEID_RECIPES
    recipes = list(MAGEID_RECIPES.values())
    for part in ("tab_vae", "img_vae", "edm", "imager"):
        varying = {arg for recipe in recipes for arg in recipe[part]
                   if len({repr(r[part].get(arg)) for r in recipes}) > 1}
        assert part != "img_vae" or "latent_dim" in varying  # v6 changed it
        for name, profile in PROFILES.items():
            named = set(profile["mageid"].get(part) or {})
            assert not varying & named, f"profile {name!r} sets {sorted(varying & named)} of {part}, which recipes set"
    # and so the recipes build different models in every profile
    for name, profile in PROFILES.items():
        section = profile["mageid"]
        built = {r: mageid(recipe=r, **{p: section.get(p) for p in ("tab_vae", "img_vae", "edm", "imager")})
                 for r in ("v4", "v6")}
        assert (built["v4"].img_vae["latent_dim"], built["v6"].img_vae["latent_dim"]) == (64, 16), name


def test_save_load_round_trip(fitted, tmp_path):
    path = tmp_path / "mageid.pt"
    fitted.save(path)
    assert isinstance(torch.load(path, weights_only=True), dict)  # plain data only
    loaded = MAGEID.load(path)
    a, b = fitted.generate({0: 6, 1: 6}, random_state=11), loaded.generate({0: 6, 1: 6}, random_state=11)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    np.testing.assert_array_equal(a.images, b.images)
    assert loaded.fit_seconds_ == fitted.fit_seconds_ and loaded.get_params() == fitted.get_params()
    pd.testing.assert_frame_equal(loaded.loss_histories()["edm"], fitted.loss_histories()["edm"])


def test_stage1_model_saves_and_continues(data, tmp_path):
    X, y = data
    params = {**TINY, "tab_vae": {**TINY["tab_vae"], "epochs": 3}, "edm": {**TINY["edm"], "epochs": 5}}
    full = MAGEID(**params).fit(X, y)
    stage1 = MAGEID(**params).fit_stage1(X, y)
    with pytest.raises(RuntimeError, match="stage 2"):
        stage1.sample({0: 1})
    stage1.save(tmp_path / "s1.pt")
    resumed = MAGEID.load(tmp_path / "s1.pt").fit_stage2(X, y)
    pd.testing.assert_frame_equal(resumed.sample({0: 5, 1: 5}, 2)[0], full.sample({0: 5, 1: 5}, 2)[0])


def test_determinism(fitted, data):
    X, y = data
    again = MAGEID(**TINY).fit(X, y)
    a, b = fitted.generate({0: 8, 1: 8}, random_state=5), again.generate({0: 8, 1: 8}, random_state=5)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    np.testing.assert_array_equal(a.images, b.images)
    other = fitted.generate({0: 8, 1: 8}, random_state=6)
    assert not np.array_equal(a.z, other.z)


def test_clone_keeps_params(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "tab_vae_")


def test_bad_input(fitted, data, tmp_path):
    X, y = data
    with pytest.raises(TypeError, match="DataFrame"):
        MAGEID(**TINY).fit(X.to_numpy(), y)
    with pytest.raises(ValueError, match="shape"):
        MAGEID(**TINY).fit(X, y[:-1])
    with pytest.raises(TypeError, match="integer class labels"):
        MAGEID(**TINY).fit(X, y.astype(float))
    with pytest.raises(ValueError, match="modalities"):
        MAGEID(modalities=("tabular", "audio")).fit(X, y)
    with pytest.raises(ValueError, match="include 'tabular'"):
        MAGEID(modalities=("image",)).fit(X, y)
    with pytest.raises(ValueError, match="unknown or reserved"):
        MAGEID(tab_vae={"depth": 3}).fit(X, y)
    with pytest.raises(ValueError, match="unknown or reserved"):
        MAGEID(edm={"device": "cpu"}).fit(X, y)
    with pytest.raises(TypeError, match="dict"):
        MAGEID(edm=[("hidden", 8)]).fit(X, y)
    with pytest.raises(ValueError, match="numeric_scaling"):
        MAGEID(numeric_scaling="log").fit(X, y)
    with pytest.raises(ValueError, match="non-finite"):
        MAGEID(**TINY).fit(X.assign(a=np.where(np.arange(len(X)) == 3, np.nan, X["a"])), y)
    with pytest.raises(RuntimeError, match="not fitted"):
        MAGEID().sample({0: 1})
    with pytest.raises(ValueError, match="not seen in fit"):
        fitted.sample({2: 3})
    with pytest.raises(ValueError, match="no rows"):
        fitted.sample({0: 0})
    with pytest.raises(ValueError, match="shape"):
        fitted.decode(np.zeros((2, 5), np.float32))
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="does not hold a saved MAGEID"):
        MAGEID.load(tmp_path / "other.pt")


# -- plain state ---------------------------------------------------------------------------------
ALLOWED = (TabularEncoder, TabularImager, QuantileTransformer)


def test_plain_state_round_trips_fitted_transformers(fitted, data):
    X, _ = data
    for original in (fitted.tab_encoder_, fitted.img_encoder_, fitted.imager_):
        plain = to_plain(original, ALLOWED)
        rebuilt = from_plain(plain, ALLOWED)
        assert type(rebuilt) is type(original)
    enc = from_plain(to_plain(fitted.tab_encoder_, ALLOWED), ALLOWED)
    for a, b in zip(enc.transform_split(X), fitted.tab_encoder_.transform_split(X)):
        np.testing.assert_array_equal(a, b)
    imager = from_plain(to_plain(fitted.imager_, ALLOWED), ALLOWED)
    pixels = fitted.img_encoder_.transform(X)
    np.testing.assert_array_equal(imager.transform(pixels), fitted.imager_.transform(pixels))
    assert imager.feature_name_grid_.shape == fitted.imager_.feature_name_grid_.shape


def test_plain_state_refuses_unknown_objects():
    with pytest.raises(TypeError, match="cannot store"):
        to_plain(object(), ALLOWED)
    with pytest.raises(TypeError, match="reserved key"):
        to_plain({"__plain__": 1}, ALLOWED)
    plain = to_plain(TabularImager(), ALLOWED)
    with pytest.raises(ValueError, match="refusing"):
        from_plain(plain, (TabularEncoder,))
    value = {"t": (1, "x", None), "s": slice(1, 5), "u": np.array(["a", "bc"]), "f": np.float64(2.5)}
    back = from_plain(to_plain(value, ()), ())
    assert back["t"] == (1, "x", None) and back["s"] == slice(1, 5) and back["f"] == 2.5
    np.testing.assert_array_equal(back["u"], value["u"])


def test_tab_vae_fits_are_reused_for_the_same_rows_settings_and_seed():
    from idsynth.models.mageid import fitted_tab_vae

    rng = np.random.default_rng(0)
    X_num = rng.standard_normal((120, 3)).astype(np.float32)
    X_cat = rng.integers(0, 3, (120, 2)).astype(np.int64)
    kwargs = dict(d_token=4, n_layers=1, d_ff=8, epochs=2, batch_size=64, device="cpu", random_state=0, verbose=False)
    first, seconds = fitted_tab_vae(X_num, X_cat, [3, 3], kwargs)
    again, seconds_again = fitted_tab_vae(X_num, X_cat, [3, 3], kwargs)
    other, _ = fitted_tab_vae(X_num, X_cat, [3, 3], dict(kwargs, random_state=1))
    assert again is not first and seconds_again == seconds
    state, state_again, state_other = (m.net_.state_dict() for m in (first, again, other))
    assert all(torch.equal(state[k], state_again[k]) for k in state)
    assert not all(torch.equal(state[k], state_other[k]) for k in state)
