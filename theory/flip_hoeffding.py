r"""The Hoeffding step of the flipping paper's Theorem 8 (S-CPOS sample test), checked exactly.

Shen, Jiang, Wachi, Hashimoto, Gros, "Flipping-based policy for chance-constrained
MDPs", NeurIPS 2024, arXiv 2410.06474, Theorem 8; cmdp_ccmdp notes §3.3, §3.8.

**Setting (tabular).** At a state :math:`s` the new policy's one-step
unsafety is :math:`q=\Pr(s^+\in U)=\sum_a\pi(a|s)P(U|s,a)`. The CPO step's
constraint (after moving the known constant :math:`H_{unsafe}(\theta_k,s)` into
the levels, which leaves :math:`\delta_s-\tilde\delta_s` unchanged) is
:math:`q/(1-\gamma_u)\le\delta_s`; the policy is *infeasible* when
:math:`q>\delta_s(1-\gamma_u)` (the check also admits equality). S-CPOS draws
:math:`N` i.i.d. successors and accepts when
:math:`\frac{1}{(1-\gamma_u)N}\sum_i\mathbb 1\{s^{+,(i)}\in U\}\le\tilde\delta_s`.

**Derivation of what Hoeffding gives.** The count :math:`X\sim\mathrm{Bin}(N,q)`;
acceptance is :math:`\bar X=X/N\le\tilde\delta_s(1-\gamma_u)`. Put
:math:`t=q-\tilde\delta_s(1-\gamma_u)`. Infeasibility gives
:math:`t\ge(\delta_s-\tilde\delta_s)(1-\gamma_u)>0`, and Hoeffding's inequality for
variables in [0, 1] (Hoeffding 1963, Thm 2; the paper applies it to
:math:`Y_i=1-\mathbb 1\{\cdot\}`, the same statement) gives

.. math::
    \Pr[\text{pass}]=\Pr(\bar X-q\le-t)\le e^{-2Nt^2}
    \le\exp\{-2N(\delta_s-\tilde\delta_s)^2(1-\gamma_u)^2\}.

So the printed exponent is right, including the factor :math:`(1-\gamma_u)^2`
(the :math:`1/(1-\gamma_u)` scaling of the estimator turns a gap
:math:`\delta_s-\tilde\delta_s` in the scaled units into a gap
:math:`(\delta_s-\tilde\delta_s)(1-\gamma_u)` in frequency units). The middle
bound :math:`e^{-2Nt^2}` at the true q is sharper and reported in the details.

**What is checked and what is not.** lhs is the *exact* pass probability
:math:`F_{N,q}(\lfloor N\tilde\delta_s(1-\gamma_u)\rfloor)` in integer/rational
arithmetic (:func:`solvers.sample_test.pass_probability`), independent of the
exponential; rhs is the printed bound. Theorem 8's conclusion "the S-CPOS
solution is feasible for CCRL" then invokes Theorem 5, which is false
(``flip.thm5_conservative``, notes §3.9-A), so only the Hoeffding step is
registered here. Two further caveats of the paper's proof, not checked: the
bound is for a *fixed* policy, whereas the S-CPOS solution is chosen using
the same samples (a data-dependent choice needs a union bound or uniform
convergence over candidates); and "feasible with probability at least
:math:`1-e^{(\cdot)}`" is the complement of "infeasible and accepted", not of
"accepted".
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import strategies as st

from solvers.sample_test import (
    EXACT_MAX_N,
    hoeffding_pass_bound,
    pass_count_threshold,
    pass_probability,
)
from solvers.tolerances import EPS

from .core import Assumption, Evidence, Instance, Theorem
from .registry import register

__all__ = ["HOEFFDING_MAX_N", "hoeffding_evidence", "hoeffding_instances"]

FLIP = "Shen, Jiang, Wachi, Hashimoto, Gros: Flipping-based policy for CCMDPs (NeurIPS 2024), " \
       "arXiv 2410.06474"

#: Largest N the instance strategy draws (the exact CDF costs about N^2 * 53 bit operations).
HOEFFDING_MAX_N = 2000
assert HOEFFDING_MAX_N <= EXACT_MAX_N

#: Largest exponent 2N(delta_s - delta_tilde)^2(1 - gamma_u)^2 drawn: e^-700 ~ 1e-304 is normal.
_MAX_EXPONENT = 700.0

#: Smallest positive float (a subnormal): both sides may underflow to within this of 0.
_TINY = 5e-324


def _infeasible_threshold(inst: Instance) -> Fraction:
    """:math:`\\delta_s(1-\\gamma_u)` in exact rationals from the stored floats."""
    return Fraction(float(inst["delta_s"])) * (1 - Fraction(float(inst["gamma_u"])))


@st.composite
def hoeffding_instances(draw: st.DrawFn) -> Instance:
    r"""``{"N", "q", "delta_s", "delta_tilde", "gamma_u"}`` with :math:`q\ge\delta_s(1-\gamma_u)`.

    N is capped so that the bound stays a normal float (exponent <= 700).
    Corners: N = 1; q exactly at the threshold, just above it, and 1;
    :math:`\tilde\delta_s=0` and close to :math:`\delta_s`; :math:`\gamma_u` close to 0 and 1.
    """
    N = draw(st.one_of(st.sampled_from([1, 2, 10, 100, HOEFFDING_MAX_N]),
                       st.integers(1, HOEFFDING_MAX_N)))
    gamma_u = draw(st.one_of(st.sampled_from([0.001, 0.5, 0.9, 0.99, 0.999999]),
                             st.floats(0.001, 0.999999, allow_nan=False, allow_subnormal=False)))
    delta_s = draw(st.one_of(st.sampled_from([1e-6, 0.1, 0.5, 0.99]),
                             st.floats(1e-6, 0.99, allow_nan=False, allow_subnormal=False)))
    frac_dt = draw(st.one_of(st.sampled_from([0.0, 0.5, 0.99]),
                             st.floats(0.0, 0.99, allow_nan=False, allow_subnormal=False)))
    frac_q = draw(st.one_of(st.sampled_from([0.0, 1e-9, 0.01, 1.0]),
                            st.floats(0.0, 1.0, allow_nan=False, allow_subnormal=False)))
    delta_tilde = frac_dt * delta_s
    # Keep the bound a normal float (exponent <= _MAX_EXPONENT): beyond it both sides
    # underflow to 0 and the comparison says nothing.
    per_sample = 2.0 * ((delta_s - delta_tilde) * (1.0 - gamma_u)) ** 2
    N = max(1, min(N, math.floor(_MAX_EXPONENT / per_sample)))
    inst = {"N": N, "delta_s": delta_s, "delta_tilde": delta_tilde, "gamma_u": gamma_u}
    lo = _infeasible_threshold(inst)
    q = min(1.0, float(lo + frac_q * (1 - lo)))
    while Fraction(q) < lo:  # the float of an exact threshold may round below it
        q = float(np.nextafter(q, 2.0))
    inst["q"] = q
    return inst


def _infeasible(inst: Instance) -> bool:
    return _infeasible_threshold(inst) <= Fraction(float(inst["q"])) <= 1


def _levels_ordered(inst: Instance) -> bool:
    return 0.0 <= float(inst["delta_tilde"]) < float(inst["delta_s"])


def hoeffding_evidence(inst: Instance, constant: float = 2.0) -> Evidence:
    r"""Evidence: lhs = exact pass probability, rhs = the printed Hoeffding bound.

    .. math:: F_{N,q}(k^\star)\le\exp\{-cN(\delta_s-\tilde\delta_s)^2(1-\gamma_u)^2\}.

    ``constant`` c is 2 in the theorem; other values exist so that tests can
    show a wrong exponent is caught.
    """
    N, q, ds = int(inst["N"]), float(inst["q"]), float(inst["delta_s"])
    dt, gu = float(inst["delta_tilde"]), float(inst["gamma_u"])
    exact = pass_probability(N, q, dt, gu)  # a Fraction, no rounding
    lhs = float(exact)  # correctly rounded: relative error <= EPS / 2
    rhs = hoeffding_pass_bound(N, ds, dt, gu, constant=constant)
    x = constant * N * ((ds - dt) * (1.0 - gu)) ** 2
    # rhs: the exponent x is formed with <= 6 roundings (relative 6 EPS, so absolute
    # 6 EPS x), exp adds < 1 ulp; lhs adds EPS/2 relative. Both may underflow by _TINY.
    tol = (8.0 * x + 4.0) * EPS * max(rhs, lhs) + 2 * _TINY
    t_true = q - dt * (1.0 - gu)
    return Evidence(lhs, rhs, "<=", tol=tol, details={
        "k_star": pass_count_threshold(N, dt, gu), "exponent": x,
        "hoeffding_at_true_q": math.exp(-2.0 * N * t_true**2) if t_true > 0 else 1.0,
        "N": N, "q": q})


register(Theorem(
    id="flip.thm8_hoeffding",
    source=f"{FLIP}, Thm 8 (Hoeffding step only; the CCRL conclusion relies on Thm 5); "
           "cmdp_ccmdp notes §3.3, §3.8",
    statement=r"\frac{q}{1-\gamma_u}\ge\delta_s>\tilde\delta_s\ \Rightarrow\ "
              r"\Pr\Big[\frac{1}{(1-\gamma_u)N}\sum_{i=1}^N\mathbb 1\{s^{+,(i)}\in U\}"
              r"\le\tilde\delta_s\Big]\le\exp\{-2N(\delta_s-\tilde\delta_s)^2(1-\gamma_u)^2\}",
    summary="an infeasible policy passes the S-CPOS sample test with probability <= "
            "exp(-2N(delta_s - delta_s~)^2 (1-gamma_u)^2)",
    instances=hoeffding_instances,
    check=hoeffding_evidence,
    assumptions=(
        Assumption("infeasible", _infeasible,
                   "delta_s (1 - gamma_u) <= q <= 1 (the constraint q/(1-gamma_u) <= delta_s "
                   "fails or is tight)"),
        Assumption("levels_ordered", _levels_ordered, "0 <= delta_tilde < delta_s"),
    ),
    tight=False,
))
