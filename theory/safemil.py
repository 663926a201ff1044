r"""SafeMIL's bag lemma and score-order theorem, checked exactly (notes §6.2, §7).

SafeMIL (Burnwal, Bhatt, Ravindran; AAAI 2026; arXiv 2511.08136) scores bags of
:math:`n_{bag}` trajectories (the paper's K) by their mean discounted cost. Both checks
run in rational arithmetic (``fractions.Fraction``), so the tolerance is 0:

- ``safemil.lemma1_bag_probability`` (holds): an unlabeled bag contains a preferred
  trajectory with probability :math:`1-(1-\alpha)^{n_{bag}}`; the left side sums over all
  :math:`2^{n_{bag}}` label vectors.
- ``safemil.thm1_score_order`` (holds, homogeneous non-preferred costs, as the notes
  state it): :math:`\Pr(\mathrm{Score}(\mathcal B_n)>\mathrm{Score}(\mathcal B_u))=
  1-(1-\alpha)^{n_{bag}}` when every non-preferred cost is :math:`C_N` and every preferred
  cost is below :math:`C_N`; the left side from the exact distributions of both bag sums.

With heterogeneous non-preferred costs the probability differs from
:math:`1-(1-\alpha)^{n_{bag}}` in both directions (e.g. at :math:`n_{bag}=1` it is
about :math:`\alpha+(1-\alpha)(1-p_{tie})/2`); the notes state Theorem 1 only under the
homogeneous assumption, so this is documented (figure ``safemil_bag_size``), not a finding.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

from solvers.safemil import (
    CostDistribution,
    bag_hit_probability,
    bag_hit_probability_enumeration,
    score_order_probability,
)

from .core import Assumption, Evidence, Instance, Theorem
from .registry import register

SAFEMIL = "Burnwal, Bhatt, Ravindran: SafeMIL (AAAI 2026), arXiv 2511.08136"
NOTES = "cmdp_ccmdp notes §6.2 (statements per a third-party note, [summary])"


def _alpha(inst: Instance) -> Fraction:
    return Fraction(int(inst["alpha_num"]), int(inst["alpha_den"]))


@st.composite
def bag_instances(draw: st.DrawFn, max_bag: int = 10) -> Instance:
    """Rational alpha = num / den in [0, 1] and a bag size."""
    den = draw(st.integers(1, 20))
    return {"alpha_num": draw(st.integers(0, den)), "alpha_den": den,
            "n_bag": draw(st.integers(1, max_bag))}


def _check_lemma1(inst: Instance) -> Evidence:
    a, n = _alpha(inst), int(inst["n_bag"])
    enum = bag_hit_probability_enumeration(a, n)
    closed = bag_hit_probability(a, n)
    # Both sides are exact Fractions: the tolerance is 0.
    return Evidence(float(enum), float(closed), "==", tol=0.0,
                    details={"exact_equal": enum == closed, "alpha": str(a)})


register(Theorem(
    id="safemil.lemma1_bag_probability",
    source=f"{SAFEMIL}, Lemma 1; {NOTES}",
    statement=r"\Pr(\mathcal B\cap\mathcal T_p\ne\emptyset)=1-(1-\alpha)^{n_{bag}}",
    summary="an unlabeled bag holds a preferred trajectory w.p. 1-(1-alpha)^n_bag",
    instances=bag_instances,
    check=_check_lemma1,
    tight=True,
))


@st.composite
def homogeneous_instances(draw: st.DrawFn) -> Instance:
    """Homogeneous non-preferred cost C_N, preferred costs below it, rational alpha."""
    inst = draw(bag_instances(max_bag=8))
    c_n = draw(st.integers(-5, 10))
    k = draw(st.integers(1, 3))
    pref = draw(st.lists(st.integers(-10, c_n - 1), min_size=k, max_size=k))
    weights = draw(st.lists(st.integers(1, 4), min_size=k, max_size=k))
    return {**inst, "cost_nonpref": c_n, "costs_pref": pref, "weights_pref": weights}


def _pref(inst: Instance) -> CostDistribution:
    w = [int(x) for x in inst["weights_pref"]]
    return CostDistribution.of([int(c) for c in inst["costs_pref"]],
                               [Fraction(x, sum(w)) for x in w], field="costs_pref")


def _separated(inst: Instance) -> bool:
    return max(int(c) for c in inst["costs_pref"]) < int(inst["cost_nonpref"])


def _check_thm1(inst: Instance) -> Evidence:
    a, n = _alpha(inst), int(inst["n_bag"])
    nonpref = CostDistribution.of([int(inst["cost_nonpref"])], field="cost_nonpref")
    so = score_order_probability(nonpref, _pref(inst), a, n)
    closed = bag_hit_probability(a, n)
    # Exact rational arithmetic on both sides: tolerance 0.
    return Evidence(float(so.greater), float(closed), "==", tol=0.0,
                    details={"tie": float(so.tie), "exact_equal": so.greater == closed})


register(Theorem(
    id="safemil.thm1_score_order",
    source=f"{SAFEMIL}, Theorem 1 (homogeneous non-preferred costs); {NOTES}",
    statement=r"C(\omega)=C_N\ \forall\omega\notin\mathcal T_p,\ C(\omega)<C_N\ \forall\omega"
              r"\in\mathcal T_p\Rightarrow\Pr(\mathrm{Score}(\mathcal B_n)>\mathrm{Score}"
              r"(\mathcal B_u))=1-(1-\alpha)^{n_{bag}}",
    summary="non-preferred bag scores above an unlabeled bag w.p. 1-(1-alpha)^n_bag "
            "(homogeneous costs)",
    instances=homogeneous_instances,
    check=_check_thm1,
    assumptions=(Assumption("preferred_below_nonpreferred", _separated,
                            "every preferred cost is below the common non-preferred cost"),),
    tight=True,
))
