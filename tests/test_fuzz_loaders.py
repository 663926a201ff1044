"""Fuzzing the instance-file loaders: a valid model or a ModelError naming the field.

Targets: :func:`solvers.instances.loads_instance` for every registered instance type
(mdp, cmdp, ccmdp, poisoning, and any type registered later: the corpus is built from
``instance_types()``), the generic :func:`decode_value` path used for theorem instances,
and :func:`theory.falsify.load_counterexample` for "theorem_instance" files.

Corpora: raw text (arbitrary bytes-as-text, truncations of valid files, NaN/Infinity
tokens, nesting 100 000 deep), arbitrary JSON documents, and valid files of each type
with one field replaced by arbitrary JSON (or deleted). Allowed outcomes and the
counting/reporting scheme are those of tests/test_fuzz_constructors.py: counts are
printed, written as JSON under pytest's tmp dir, asserted, and emitted as one
``FuzzSummary`` warning per test so that every CI log shows them in pytest's
warnings summary without ``-s``.
"""

from __future__ import annotations

import ast
import json
import math
import reprlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import solvers.instances as instances_mod
from solvers.errors import ModelError
from solvers.instances import (
    CCMDPProblem,
    CMDPProblem,
    decode_value,
    dumps_instance,
    instance_types,
    loads_instance,
)
from solvers.mdp import TabularMDP
from solvers.poisoning import PoisoningInstance
from tests.fuzz_outcomes import outcome, report

REPO = Path(__file__).resolve().parents[1]
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 60, 60




# -- one valid file per registered type --------------------------------------------------
P2 = np.array([[[0.5, 0.5], [1.0, 0.0]], [[0.0, 1.0], [0.25, 0.75]]])
R2 = np.array([[1.0, 0.0], [0.0, 2.0]])
MU2 = np.array([0.5, 0.5])
C2 = np.array([[[0.0, 1.0], [1.0, 0.0]]])
VALID_OBJECTS: dict[str, Any] = {
    "mdp": TabularMDP(P2, R2, MU2, gamma=0.9),
    "cmdp": CMDPProblem(TabularMDP(P2, R2, MU2, gamma=0.9, costs=C2), np.array([3.0])),
    "ccmdp": CCMDPProblem(TabularMDP(P2, R2, MU2, horizon=3), np.array([False, True]), 0.2,
                          "h_unsafe", 0.5),
    "poisoning": PoisoningInstance(np.array([[1.0, -1.0, 0.5]]), np.array([0.2, 0.5, 0.9]),
                                   theta_A=np.array([0.3, 0.5, 0.7]), m=2),
    "bilevel": instances_mod.load_instance(REPO / "examples" / "bilevel_small.json"),
}


def valid_documents() -> dict[str, dict]:
    """A valid JSON document per registered type (fails loudly if a type has no example)."""
    missing = set(instance_types()) - set(VALID_OBJECTS)
    assert not missing, f"register an example for the new instance type(s) {sorted(missing)}"
    return {name: json.loads(dumps_instance(obj)) for name, obj in VALID_OBJECTS.items()}


def test_every_registered_type_has_a_valid_example_that_loads() -> None:
    for name, doc in valid_documents().items():
        kind, obj = outcome(lambda doc=doc: loads_instance(json.dumps(doc)))
        assert kind == "valid", (name, obj)
        assert dumps_instance(obj) == dumps_instance(VALID_OBJECTS[name])


# -- corpora -----------------------------------------------------------------------------
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -1e308, 5e-324, 0.0, -0.0, 1.5, 2.0, -1, 0, 1, 3]),
    st.text(max_size=4), st.sampled_from(["3", "0.5", "mdp", "cmdp", "float64", "bool"]),
)
json_values = st.recursive(
    scalars,
    lambda ch: st.one_of(
        st.lists(ch, max_size=4),
        st.dictionaries(st.sampled_from(["type", "ndarray", "dtype", "csr", "shape", "indptr",
                                         "indices", "data", "P", "r", "mu0", "gamma"])
                        | st.text(max_size=3), ch, max_size=4),
    ),
    max_leaves=20,
)


def _arrays_like(doc_value: Any) -> st.SearchStrategy:
    """Same nesting as a valid value, with arbitrary scalars: shape-preserving junk."""
    if isinstance(doc_value, list):
        return st.lists(_arrays_like(doc_value[0]) if doc_value else scalars,
                        min_size=max(len(doc_value) - 1, 0), max_size=len(doc_value) + 1)
    return scalars


@st.composite
def mutated_document(draw: st.DrawFn) -> str:
    docs = valid_documents()
    name = draw(st.sampled_from(sorted(docs)))
    doc = dict(docs[name])
    key = draw(st.sampled_from([*sorted(doc), "__extra__"]))
    how = draw(st.sampled_from(["replace", "replace_like", "delete", "nest"]))
    if how == "delete":
        doc.pop(key, None)
    elif how == "replace_like" and key in doc:
        doc[key] = draw(_arrays_like(doc[key]))
    elif how == "nest" and key in doc:
        doc[key] = {"ndarray": doc[key], "dtype": draw(st.sampled_from(
            ["float64", "int64", "bool", "object", "complex128"]))}
    else:
        doc[key] = draw(json_values)
    return json.dumps(doc)


def _deep(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + "1" + close * depth


def _fixed_texts() -> list[str]:
    docs = valid_documents()
    texts = ["", " ", "null", "[]", "{}", "0", '"mdp"', "NaN", "{\"type\": \"mdp\"}",
             '{"type": "mdp", "P": NaN}', '{"type": "mdp", "P": Infinity}',
             '{"type": "mdp", "gamma": -Infinity}', '{"type": 1}', '{"type": null}',
             '{"type": "pickle", "data": "gASVAAAAAAAAAAB9lC4="}',
             '{"type": "mdp", "__reduce__": ["os.system", ["echo pwned"]]}',
             '{"type": "__import__(\'os\').system(\'echo pwned\')"}',
             '{"type": "mdp", "P": {"py/object": "os.system"}}',
             _deep(100_000), '{"type": "mdp", "P": ' + _deep(100_000) + "}",
             '{"type": "mdp", "r": ' + _deep(60) + "}", "\x00\xff", "\ud800"]
    for doc in docs.values():
        text = json.dumps(doc)
        texts += [text[: len(text) // 2], text[:-1], text.replace("0.5", "1e999", 1),
                  text.replace("0.5", '"0.5"', 1), text.replace("0.5", "true", 1)]
    return texts


def _check(counts: Counter, failures: list[str], build: Callable[[], Any], label: str) -> str:
    kind, why = outcome(build)
    counts[kind] += 1
    if kind == "disallowed":
        failures.append(f"{label}: {why}")
    return kind


def test_fixed_corpus_of_bad_files_only_gives_model_errors(tmp_path: Path) -> None:
    counts: dict[str, Counter] = {"loads_instance": Counter(), "load_instance": Counter()}
    failures: list[str] = []
    for i, text in enumerate(_fixed_texts()):
        _check(counts["loads_instance"], failures, lambda t=text: loads_instance(t),
               f"text {_REPR.repr(text)}")
        path = tmp_path / f"f{i}.json"
        try:
            path.write_text(text, encoding="utf-8", errors="surrogateescape")
        except UnicodeEncodeError:
            continue
        _check(counts["load_instance"], failures,
               lambda p=path: instances_mod.load_instance(p), f"file {_REPR.repr(text)}")
    # invalid UTF-8 bytes in a file
    bad = tmp_path / "bad_utf8.json"
    bad.write_bytes(b'{"type": "mdp", "r": "\xff\xfe"}')
    _check(counts["load_instance"], failures, lambda: instances_mod.load_instance(bad),
           "invalid UTF-8 file")
    report("loaders.fixed", counts, tmp_path)
    assert counts["loads_instance"]["valid"] == 0  # no text in this corpus is a valid model
    assert counts["loads_instance"]["ModelError"] == len(_fixed_texts())
    assert not failures, "\n".join(failures)


def _examples(factor: int) -> int:
    return factor * settings.default.max_examples


@pytest.mark.parametrize("corpus", ["arbitrary_json", "mutated_valid_file", "raw_text"])
def test_fuzzed_instance_files_give_a_model_or_a_model_error(corpus: str, tmp_path) -> None:
    counts: dict[str, Counter] = {corpus: Counter()}
    failures: list[str] = []
    strategy = {
        "arbitrary_json": st.one_of(json_values.map(json.dumps),
                                    st.dictionaries(st.just("type"),
                                                    st.sampled_from(instance_types()),
                                                    min_size=1).flatmap(
                                        lambda d: st.dictionaries(st.text(max_size=5),
                                                                  json_values, max_size=6)
                                        .map(lambda extra: json.dumps({**extra, **d})))),
        "mutated_valid_file": mutated_document(),
        "raw_text": st.text(max_size=60),
    }[corpus]

    @settings(max_examples=_examples(4), database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(text: str) -> None:
        kind = _check(counts[corpus], failures, lambda: loads_instance(text),
                      f"text {_REPR.repr(text)}")
        assert kind != "disallowed", failures[-1]
        if kind == "valid":  # a loaded model re-encodes to a file that loads to the same bytes
            obj = loads_instance(text)
            again = dumps_instance(obj)
            assert dumps_instance(loads_instance(again)) == again

    run()
    report(f"loaders.{corpus}", counts, tmp_path)
    c = counts[corpus]
    assert sum(c.values()) >= min(_examples(4), 25)
    assert c["ModelError"] > 0
    assert not failures


# -- decode_value: the path of theorem instances and counterexample files ------------------
def test_decode_value_on_fuzzed_values_gives_data_or_a_model_error(tmp_path) -> None:
    counts: dict[str, Counter] = {"decode_value": Counter()}
    failures: list[str] = []

    @settings(max_examples=_examples(4), database=None, suppress_health_check=list(HealthCheck))
    @given(json_values)
    def run(value: Any) -> None:
        kind = _check(counts["decode_value"], failures, lambda: decode_value(value),
                      f"value {_REPR.repr(value)}")
        assert kind != "disallowed", failures[-1]

    run()
    report("loaders.decode_value", counts, tmp_path)
    assert counts["decode_value"]["valid"] > 0 and counts["decode_value"]["ModelError"] > 0
    assert not failures


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"ndarray": [[1.0, 2.0], [3.0]]}, "ndarray"),
        ({"ndarray": [1.5, 2.0], "dtype": "int64"}, "ndarray"),
        ({"ndarray": ["3", "4"], "dtype": "float64"}, "ndarray"),
        ({"ndarray": [True, 1.0], "dtype": "float64"}, "ndarray"),
        ({"ndarray": [1, 2], "dtype": "bool"}, "ndarray"),
        ({"ndarray": {"a": 1}}, "ndarray"),
        ({"ndarray": [1.0], "dtype": "object"}, "dtype"),
        ({"csr": {"shape": [2.5, 2], "indptr": [0, 0, 0], "indices": [], "data": []}}, "csr"),
        ({"csr": {"shape": [2, 2], "indptr": [0, 1, 1], "indices": [0.7], "data": [1.0]}},
         "csr"),
        ({"csr": {"shape": [2, 2], "indptr": [0, 1, 1], "indices": [0], "data": ["1"]}},
         "csr"),
        ({"csr": {"shape": [True, 2], "indptr": [0, 0], "indices": [], "data": []}}, "csr"),
        ({"csr": [1, 2]}, "csr"),
    ],
)
def test_decode_value_rejects_silent_coercions(value: Any, field: str) -> None:
    with pytest.raises(ModelError) as info:
        decode_value(value)
    assert info.value.field is not None and field in str(info.value)


def test_decoded_arrays_are_exactly_the_encoded_ones() -> None:
    a = np.array([[0.1, 1e-300], [5e-324, -2.5]])
    assert decode_value({"ndarray": a.tolist(), "dtype": "float64"}).tobytes() == a.tobytes()
    b = np.array([3, -7], dtype=np.int64)
    out = decode_value({"ndarray": b.tolist(), "dtype": "int64"})
    assert out.dtype == np.int64 and np.array_equal(out, b)


def _theorem_instance_text(instance: Any) -> str:
    return json.dumps({"type": "theorem_instance", "theorem": "mdp.some_theorem",
                       "instance": instance})


def test_load_counterexample_decodes_valid_theorem_instances(tmp_path) -> None:
    from theory.falsify import load_counterexample

    path = tmp_path / "c.json"
    inst = {"mdp": json.loads(dumps_instance(VALID_OBJECTS["mdp"])), "x": 1.5}
    path.write_text(_theorem_instance_text(inst))
    tid, back = load_counterexample(path)
    assert tid == "mdp.some_theorem" and back["x"] == 1.5
    assert dumps_instance(back["mdp"]) == dumps_instance(VALID_OBJECTS["mdp"])


@pytest.mark.parametrize("text", ["{", '{"type": "theorem_instance"}',
                                  '{"type": "theorem_instance", "theorem": 1, "instance": NaN}',
                                  '{"type": "other"}'])
def test_load_counterexample_only_raises_model_errors(text: str, tmp_path) -> None:
    from theory.falsify import load_counterexample

    path = tmp_path / "c.json"
    path.write_text(text)
    kind, why = outcome(lambda: load_counterexample(path))
    assert kind == "ModelError", why


def test_load_counterexample_rejects_bad_instance_payloads_with_model_error(tmp_path) -> None:
    """The decode step of a well-formed theorem_instance file is the fuzzed decode_value."""
    from theory.falsify import load_counterexample

    path = tmp_path / "c.json"
    path.write_text(_theorem_instance_text({"P": {"type": "mdp", "P": "abc"}}))
    kind, exc = outcome(lambda: load_counterexample(path))
    assert kind == "ModelError" and exc.field == "r"  # the nested mdp has no field r


# -- loading never executes code -----------------------------------------------------------
LOADER_SOURCES = [REPO / "solvers" / name for name in (
    "instances.py", "instances_codec.py", "instances_problems.py", "bilevel_instance.py")]
LOADER_SOURCES.append(REPO / "theory" / "falsify.py")
FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "loads", "load", "import_module",
                   "literal_eval", "getattr"}
FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "marshal", "shelve", "yaml", "jsonpickle",
                     "importlib", "joblib", "cloudpickle"}


def forbidden_constructs(source: str) -> list[str]:
    """Imports of deserialising modules and calls that can run code, found by the AST."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            found += [f"import {n}" for n in names if n.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) \
                else None
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) \
                else None
            if name in ("loads", "load") and owner == "json":
                continue  # json.loads / json.load build dicts, lists and scalars only
            if name in FORBIDDEN_CALLS:
                found.append(f"call {owner + '.' if owner else ''}{name}")
    return found


@pytest.mark.parametrize("path", LOADER_SOURCES, ids=lambda p: p.name)
def test_loaders_never_deserialise_code(path: Path) -> None:
    assert forbidden_constructs(path.read_text(encoding="utf-8")) == []


def test_the_code_scan_catches_pickle_and_eval() -> None:
    bad = ("import pickle\nfrom importlib import import_module\nx = eval('1')\n"
           "y = pickle.loads(b'')\n")
    assert forbidden_constructs(bad) == ["import pickle", "import importlib", "call eval",
                                         "call pickle.loads"]


def test_reduce_style_payloads_are_data_not_code(tmp_path) -> None:
    marker = tmp_path / "pwned"
    payloads = [
        {"type": "mdp", "P": {"__reduce__": ["os.system", [f"touch {marker}"]]}},
        {"type": "mdp", "P": {"py/reduce": [{"py/function": "os.system"}, [f"touch {marker}"]]},
         "r": [[0.0]], "mu0": [1.0], "gamma": 0.5},
        {"type": f"__import__('os').system('touch {marker}')"},
    ]
    for payload in payloads:
        kind, exc = outcome(lambda p=payload: loads_instance(json.dumps(p)))
        assert kind == "ModelError", exc
    decoded = decode_value({"__reduce__": ["os.system", [f"touch {marker}"]]})
    assert decoded == {"__reduce__": ["os.system", [f"touch {marker}"]]}  # plain data
    assert not marker.exists()


def test_finite_numbers_only_even_when_written_as_overflowing_literals() -> None:
    """Python's json reads 1e999 as inf; the loader refuses it like NaN and Infinity."""
    text = dumps_instance(VALID_OBJECTS["mdp"]).replace("0.9", "1e999", 1)
    assert math.isinf(json.loads(text)["gamma"])
    with pytest.raises(ModelError, match="1e999") as info:
        loads_instance(text)
    assert info.value.field == "json"
