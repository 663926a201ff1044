"""JSON instance files: exact round trips, canonical bytes, refusal of bad data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given

from solvers import ModelError, dumps_instance, load_instance, loads_instance, random_mdp
from theory.strategies import mdps


def same_model(a, b) -> bool:
    Pa = a.P.toarray() if a.is_sparse else a.P
    Pb = b.P.toarray() if b.is_sparse else b.P
    return (Pa.tobytes() == Pb.tobytes() and a.r.tobytes() == b.r.tobytes()
            and a.mu0.tobytes() == b.mu0.tobytes() and a.costs.tobytes() == b.costs.tobytes()
            and a.gamma == b.gamma and a.horizon == b.horizon and a.is_sparse == b.is_sparse)


@given(mdps(horizon=None, K=1))
def test_round_trip_is_bit_exact(m):
    text = dumps_instance(m)
    back = loads_instance(text)
    assert same_model(m, back)
    assert dumps_instance(back) == text


def test_sparse_models_round_trip(tmp_path):
    m = random_mdp(0, 20, 3, K=1, successors=4)
    path = tmp_path / "m.json"
    path.write_text(dumps_instance(m))
    assert same_model(m, load_instance(path))


def test_nan_and_infinity_tokens_are_refused():
    text = dumps_instance(random_mdp(0, 2, 2)).replace("0.9", "NaN", 1)
    with pytest.raises(ModelError, match="NaN"):
        loads_instance(text)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("r"), "r"),
        (lambda d: d.update(type="nonsense"), "type"),
        (lambda d: d.update(gamma=1.5), "gamma"),
        (lambda d: d.update(horizon=3), "gamma"),
        (lambda d: d.update(P="abc"), "P"),
        (lambda d: d.update(mu0=[0.5, 0.6]), "mu0"),
    ],
)
def test_malformed_files_raise_model_error_naming_the_field(mutate, field):
    data = json.loads(dumps_instance(random_mdp(0, 2, 2)))
    mutate(data)
    with pytest.raises(ModelError) as info:
        loads_instance(json.dumps(data))
    assert info.value.field == field


@pytest.mark.parametrize("text", ["", "[1, 2]", "{\"a\": 1}", "{not json", "3"])
def test_non_instance_json_is_refused(text):
    with pytest.raises(ModelError):
        loads_instance(text)


def test_corrupt_sparse_matrix_is_refused():
    data = json.loads(dumps_instance(random_mdp(0, 4, 2, successors=2)))
    data["P"]["csr"]["indices"][0] = 99
    with pytest.raises(ModelError, match="CSR"):
        loads_instance(json.dumps(data))


def test_arrays_encode_with_their_dtype():
    from solvers.instances import decode_value, encode_value
    for arr in (np.arange(3), np.linspace(0, 1, 4), np.array([True, False])):
        back = decode_value(encode_value(arr))
        assert back.dtype == arr.dtype and np.array_equal(back, arr)


def test_declared_sizes_must_match_the_arrays():
    data = json.loads(dumps_instance(random_mdp(0, 3, 2)))
    data["S"] = 4
    with pytest.raises(ModelError, match=r"mdp.S = 4 but r has shape \(3, 2\)"):
        loads_instance(json.dumps(data))


# -- the "ccmdp" type (solve_ccmdp) ------------------------------------------------------
def _ccmdp_problem(**kw):
    from solvers.instances import CCMDPProblem

    m = random_mdp(0, 3, 2, horizon=3)
    return CCMDPProblem(m, kw.pop("unsafe", np.array([False, True, False])),
                        kw.pop("delta", 0.25), **kw)


@pytest.mark.parametrize("kw", [{}, {"surrogate": "boole"},
                                {"surrogate": "h_unsafe", "gamma_u": 0.9}])
def test_ccmdp_round_trip_is_bit_exact(kw):
    prob = _ccmdp_problem(**kw)
    back = loads_instance(dumps_instance(prob))
    assert back.unsafe.tolist() == prob.unsafe.tolist() and back.delta == prob.delta
    assert back.surrogate == prob.surrogate and back.gamma_u == prob.gamma_u
    assert np.array_equal(back.mdp.P, prob.mdp.P) and back.mdp.horizon == 3
    assert json.loads(dumps_instance(prob))["unsafe"] == [1]


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda d: d.update(delta=1.5), "delta"),
    (lambda d: d.update(unsafe=[5]), "unsafe"),
    (lambda d: d.update(unsafe=[True]), "unsafe"),
    (lambda d: d.pop("unsafe"), "unsafe"),
    (lambda d: d.update(surrogate="other"), "surrogate"),
    (lambda d: d.update(surrogate="h_unsafe"), "gamma_u"),
    (lambda d: (d.pop("horizon"), d.update(gamma=0.9)), "horizon"),
])
def test_malformed_ccmdp_files_name_the_field(mutate, field):
    data = json.loads(dumps_instance(_ccmdp_problem()))
    mutate(data)
    with pytest.raises(ModelError) as info:
        loads_instance(json.dumps(data))
    assert info.value.field == field


# -- the "poisoning" type (poisoning notes §5) ---------------------------------------------------
def _poisoning_file(**kw):
    d = {"type": "poisoning", "Phi": [[1.0, 2.0, -1.0], [0.0, 1.0, 1.0]],
         "theta_O": [1.0, 1.0, 0.0], "theta_A": [0.0, 1.0, 1.0], "m": 5, "cost": "l1",
         "counts": None}
    d.update(kw)
    return json.dumps(d)


@pytest.mark.parametrize("target", ["theta_A", "r_A", "target_moment"])
def test_poisoning_round_trip_keeps_the_target_kind_bit_exact(target):
    from solvers.poisoning import PoisoningInstance

    vals = {"theta_A": [0.0, 1.0, 0.25], "r_A": [0.3, -1.1], "target_moment": [0.5, -0.25]}
    d = json.loads(_poisoning_file())
    del d["theta_A"]
    d[target] = vals[target]
    p = loads_instance(json.dumps(d))
    assert isinstance(p, PoisoningInstance) and p.m == 5
    assert getattr(p, target).tolist() == vals[target]
    text = dumps_instance(p)
    assert dumps_instance(loads_instance(text)) == text and target in json.loads(text)


@pytest.mark.parametrize("mutate, field", [
    ({"theta_O": [1.0, 1.5, 0.0]}, "theta_O"),
    ({"counts": [1, 2, 3]}, "counts"),
    ({"cost": "l3"}, "cost"),
    ({"m": 2.5}, "m"),
    ({"Phi": [[1.0, 2.0], [0.0, 1.0]]}, "theta_O"),
    ({"r_A": [1.0, 1.0]}, "theta_A"),
])
def test_malformed_poisoning_files_name_the_field(mutate, field):
    with pytest.raises(ModelError) as err:
        loads_instance(_poisoning_file(**mutate))
    assert err.value.field == field


# -- the split modules: one registry, the same names everywhere ---------------------------------
def test_split_modules_share_one_registry_and_reexport_the_same_objects():
    import solvers
    import solvers.instances as files
    import solvers.instances_codec as codec
    import solvers.instances_problems as problems
    from solvers.poisoning import PoisoningInstance as FromPoisoning
    from solvers.poisoning_instance import PoisoningInstance

    assert files.CMDPProblem is problems.CMDPProblem and files.CCMDPProblem is problems.CCMDPProblem
    assert files.register_instance_type is codec.register_instance_type
    assert files.decode_value is codec.decode_value
    assert solvers.loads_instance is files.loads_instance
    assert FromPoisoning is PoisoningInstance is solvers.PoisoningInstance
    # every type, bilevel included (registered last, after solvers.instances is complete)
    assert set(codec.instance_types()) >= {"mdp", "cmdp", "ccmdp", "poisoning", "bilevel"}
    # a type registered through the codec is seen by the file loader (a single registry)
    assert files.instance_types() == codec.instance_types()


def test_field_of_names_the_missing_field_or_the_non_object():
    from solvers.instances_codec import field_of

    assert field_of({"a": 1}, "a", "x") == 1
    with pytest.raises(ModelError) as err:
        field_of({"a": 1}, "b", "x")
    assert err.value.field == "b"
    with pytest.raises(ModelError) as err:
        field_of([1], "a", "x")
    assert err.value.field == "x"
