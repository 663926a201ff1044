"""The "bilevel" instance type: encode/decode round trips keep every bit (dense, CSR and softmax
kernels, every reward kind), the example file loads and means what it says, and every bad field
raises ModelError naming that field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from solvers import dumps_instance, load_instance, loads_instance, random_mdp
from solvers.bilevel_instance import BilevelInstance, decode_bilevel, encode_bilevel
from solvers.configurable_mdp import (
    ConfigurableMDP,
    FixedKernel,
    LinearReward,
    SoftmaxKernel,
    TanhReward,
    incentive_table,
)
from solvers.errors import ModelError
from solvers.hypergradient import bilevel_point

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bilevel_small.json"


def _model(seed: int, kernel: str, reward: str) -> tuple[ConfigurableMDP, np.ndarray]:
    rng = np.random.default_rng(seed)
    S, A, n = 4, 3, 2
    if kernel == "softmax":
        support = rng.random((S, A, S)) < 0.7
        support[..., 0] = True
        kern = SoftmaxKernel(rng.normal(size=(S, A, S)), rng.normal(size=(S, A, S, n)), support)
    elif kernel == "csr":
        kern = FixedKernel(random_mdp(seed, S, A, successors=2).P)
    else:
        kern = FixedKernel(rng.dirichlet(np.ones(S), size=(S, A)))
    if reward == "incentive_table":
        sup = np.zeros((S, A), bool)
        sup[[0, 2], [1, 0]] = True
        r_F = incentive_table(rng.normal(size=(S, A)), sup, 0.7)
    elif reward == "tanh":
        r_F = TanhReward(rng.normal(size=(S, A)), rng.normal(size=(S, A, n)), 1.5)
    else:
        r_F = LinearReward(rng.normal(size=(S, A)), rng.normal(size=(S, A, n)))
    r_U = LinearReward(rng.normal(size=(S, A)), np.zeros((S, A, n)))
    m = ConfigurableMDP(r_F, r_U, kern, rng.dirichlet(np.ones(S)), 0.9, 0.7, 0.4, n)
    return m, rng.normal(size=n) / 3


def _same(a: ConfigurableMDP, b: ConfigurableMDP, x: np.ndarray) -> None:
    """Bit-identical values and Jacobians at x, and the same scalars."""
    da, db = a.at(x), b.at(x)
    for key in ("J_rF", "J_rU", "J_P"):
        assert (da[key] is None) == (db[key] is None)
        if da[key] is not None:
            assert np.array_equal(da[key], db[key])
    for who in ("follower", "leader"):
        assert np.array_equal(da[who].dense_P(), db[who].dense_P())
        assert np.array_equal(da[who].r, db[who].r)
    assert np.array_equal(a.mu0, b.mu0)
    assert (a.gamma_F, a.gamma_U, a.tau, a.n) == (b.gamma_F, b.gamma_U, b.tau, b.n)
    assert type(a.kernel) is type(b.kernel) and type(a.r_F) is type(b.r_F)


@pytest.mark.parametrize("kernel", ["dense", "csr", "softmax"])
@pytest.mark.parametrize("reward", ["linear", "incentive_table", "tanh"])
def test_round_trip_through_json_text_keeps_every_bit(kernel, reward):
    m, x = _model(1, kernel, reward)
    text = dumps_instance(BilevelInstance(m, x))
    back = loads_instance(text)
    assert isinstance(back, BilevelInstance)
    _same(m, back.model, x)
    assert np.array_equal(back.x, x)
    assert dumps_instance(back) == text  # canonical: same model, same bytes
    assert sp.issparse(back.model.kernel.P) if kernel == "csr" else True
    spec = json.loads(text)
    assert spec["follower_reward"]["kind"] == reward  # an incentive table is recognised
    assert "Phi" not in spec["leader_reward"]  # x-independent leader reward written compactly


@given(seed=st.integers(0, 2**32 - 1), kernel=st.sampled_from(["dense", "csr", "softmax"]))
def test_decode_of_encode_is_the_identity_and_preserves_the_hypergradient(seed, kernel):
    m, x = _model(seed, kernel, "linear")
    m2, x2 = decode_bilevel(json.loads(json.dumps(encode_bilevel(m, x))))
    _same(m, m2, x)
    p, p2 = bilevel_point(m, x), bilevel_point(m2, x2)
    assert p.F == p2.F and np.array_equal(p.gradient("bc"), p2.gradient("bc"))


def test_example_file_loads_with_the_stated_incentive_structure():
    inst = load_instance(EXAMPLE)
    assert repr(inst).startswith("BilevelInstance(S=3, A=2, n=2, gamma_F=0.9, gamma_U=0.8")
    d = inst.model.at(inst.x)
    # the follower is paid x_i on the two marked pairs; the leader pays half of it
    base = np.array([[0.2, 0.0], [0.1, -0.1], [0.0, 0.0]])
    want_F = base.copy()
    want_F[0, 1] += 0.3
    want_F[1, 1] += 0.2
    assert np.allclose(d["follower"].r, want_F, rtol=0, atol=1e-15)
    assert d["leader"].r[0, 1] == -0.15 and d["leader"].r[1, 1] == -0.1
    assert d["leader"].r[2].tolist() == [1.0, 1.0]


# -- bad input ---------------------------------------------------------------------------
def _spec() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def _set(path: str, value):
    def edit(spec: dict) -> None:
        *head, last = path.split(".")
        obj = spec
        for key in head:
            obj = obj[key]
        if value is _DELETE:
            del obj[last]
        else:
            obj[last] = value
    return edit


_DELETE = object()
_SOFTMAX = {"kind": "softmax", "logits": np.zeros((3, 2, 3)).tolist(),
            "Psi": np.zeros((3, 2, 3, 2)).tolist()}

BAD = [
    ("tau", _set("tau", 0.0)),
    ("tau", _set("tau", -1)),
    ("tau", _set("tau", "hot")),
    ("gamma_F", _set("gamma_F", 1.0)),
    ("gamma_U", _set("gamma_U", -0.1)),
    ("gamma_U", _set("gamma_U", True)),
    ("gamma_F", _set("gamma_F", _DELETE)),
    ("mu0", _set("mu0", [0.5, 0.0, 0.0])),
    ("mu0", _set("mu0", [1.0, 0.0])),
    ("P", _set("P", [[[1.0, 0.0, 0.0], [0.5, 0.6, 0.0]]] * 3)),
    ("P", _set("P", [[[1.0, 0.0], [1.0, 0.0]]] * 3)),
    ("P", _set("P", {"csr": {"shape": [6, 3], "indptr": [0], "indices": [], "data": []}})),
    ("P", _set("P", _DELETE)),
    ("P", _set("kernel", _SOFTMAX)),  # both P and kernel
    ("x", _set("x", [0.3])),
    ("x", _set("x", [0.3, "a"])),
    ("x", _set("x", [True, False])),
    ("x", _set("x", _DELETE)),
    ("n", _set("n", 3)),
    ("S", _set("S", 4)),
    ("follower_reward.kind", _set("follower_reward.kind", "quadratic")),
    ("follower_reward.support", _set("follower_reward.support", [[0, 2], [0, 1], [0, 0]])),
    ("follower_reward.support", _set("follower_reward.support",
                                     [[False] * 2] * 3)),  # marks no pair
    ("follower_reward.base", _set("follower_reward.base", [0.0, 0.0])),
    ("follower_reward.scale", _set("follower_reward.scale", "big")),
    ("follower_reward.typo", _set("follower_reward.typo", 1)),
    ("follower_reward.kind", _set("follower_reward.kind", _DELETE)),
    ("follower_reward", _set("follower_reward", [1, 2])),
    ("leader_reward.r0", _set("leader_reward", {"kind": "linear", "r0": [[0.0] * 2] * 4})),
    ("leader_reward.Phi", _set("leader_reward", {"kind": "linear", "r0": [[0.0] * 2] * 3,
                                                 "Phi": [[[0.0]] * 2] * 3})),
    ("leader_reward.r0", _set("leader_reward", {"kind": "linear",
                                                "r0": [[0.0, float("inf")]] * 3})),
    ("leader_reward", _set("leader_reward", _DELETE)),
    ("type", _set("type", "mdp_bilevel")),
    ("colour", _set("colour", "red")),
    ("description", _set("description", 5)),
]


@pytest.mark.parametrize("field,edit", BAD, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD)])
def test_each_bad_field_raises_model_error_naming_it(field, edit):
    spec = _spec()
    decode_bilevel(copy.deepcopy(spec))  # the unedited spec is fine
    edit(spec)
    with pytest.raises(ModelError) as info:
        decode_bilevel(spec)
    assert info.value.field == field, str(info.value)


@pytest.mark.parametrize("field,kernel", [
    ("kernel.Psi", {**_SOFTMAX, "Psi": np.zeros((3, 2, 3, 1)).tolist()}),
    ("kernel.logits", {**_SOFTMAX, "logits": np.zeros((3, 2, 2)).tolist()}),
    ("kernel.support", {**_SOFTMAX, "support": np.zeros((3, 2, 3), bool).tolist()}),
    ("kernel.support", {**_SOFTMAX, "support": [[["yes"] * 3] * 2] * 3}),
    ("kernel.kind", {**_SOFTMAX, "kind": "gaussian"}),
    ("kernel.Psi", {"kind": "softmax", "logits": _SOFTMAX["logits"]}),
    ("kernel.extra", {**_SOFTMAX, "extra": 0}),
])
def test_bad_softmax_kernel_fields_are_named(field, kernel):
    spec = _spec()
    del spec["P"]
    spec["kernel"] = copy.deepcopy(_SOFTMAX)
    decode_bilevel(copy.deepcopy(spec))  # the zero-logit softmax kernel is fine
    spec["kernel"] = kernel
    with pytest.raises(ModelError) as info:
        decode_bilevel(spec)
    assert info.value.field == field, str(info.value)


def test_loader_refuses_nan_and_the_type_is_registered():
    text = EXAMPLE.read_text(encoding="utf-8").replace('"tau": 0.5', '"tau": NaN')
    with pytest.raises(ModelError, match="NaN"):
        loads_instance(text)
    with pytest.raises(ModelError) as info:
        loads_instance(EXAMPLE.read_text(encoding="utf-8").replace('"tau": 0.5', '"tau": 0'))
    assert info.value.field == "tau"


def test_encoding_an_unsupported_parameterisation_is_refused():
    m, x = _model(0, "dense", "linear")

    odd = ConfigurableMDP(m.r_F, m.r_U, m.kernel, m.mu0, 0.9, 0.7, 0.4, m.n)
    object.__setattr__(odd, "r_U", type("R", (), {"value": m.r_U.value,
                                                 "jacobian": m.r_U.jacobian})())
    with pytest.raises(ModelError) as info:
        encode_bilevel(odd, x)
    assert info.value.field == "leader_reward"
    with pytest.raises(ModelError) as info:
        encode_bilevel(m, np.zeros(3))
    assert info.value.field == "x"
