r"""Penalty view of the soft-follower hypergradient (bilevel notes §2.5, §6 item 9).

:math:`\psi_\sigma(x)=(W(x,\sigma)-W(x,0))/\sigma` with :math:`W` the soft-optimal value of
:math:`r_F+\sigma r_U` (one discount :math:`\gamma`). :math:`W` is convex in :math:`\sigma`
with :math:`\partial_\sigma W(x,0)=F(x)`, so

.. math::
    F\le\psi_{\sigma/2}\le\psi_\sigma,\qquad
    \psi_\sigma-F\le\frac\sigma2\max_t\partial^2_\sigma W\le
    \frac{\sigma\,(\Delta r_U)^2}{4\tau(1-\gamma)^3},

the last step being the §2.6 response bound for the scalar parameter :math:`\sigma`
(:math:`\partial_\sigma r=r_U`, shifted by its mid-range, which leaves
:math:`\partial^2_\sigma W` unchanged: :math:`G=\Delta r_U/2`). The gradient
:math:`\nabla\psi_\sigma` converges to :math:`\nabla F` at rate :math:`O(\sigma)`; the check
verifies that the error shrinks at least like :math:`\sigma^{0.9}` over a decade of small
:math:`\sigma`. Each side is computed independently: F and :math:`\nabla F` from the
leader's linear solves under the untilted follower (covariance form), :math:`\psi_\sigma`
and its gradient from two tilted soft solves and their occupancies.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from solvers.hypergradient import bilevel_point, objective_error_bound
from solvers.penalty import penalty
from solvers.tolerances import EPS

from .bilevel import NOTES, bilevel_instances, build_model
from .core import Evidence, Instance, Theorem
from .registry import register

__all__ = ["penalty_instances"]

KWON = "Kwon, Kwon, Wright, Nowak, ICLR 2024, arXiv 2309.01753"


@st.composite
def penalty_instances(draw: st.DrawFn) -> Instance:
    """bilevel_instances with gamma_U = gamma_F and a drawn sigma in [1e-3, 1]."""
    inst = draw(bilevel_instances(max_S=3))
    inst["gamma_U"] = inst["gamma_F"]
    inst["sigma"] = draw(st.floats(1e-3, 1.0))
    return inst


def _setup(inst: Instance):
    m = build_model(inst)
    p = bilevel_point(m, inst["x"], None)
    dr = float(np.ptp(p.data["leader"].r))
    return m, p, dr


def _check_value(inst: Instance) -> Evidence:
    m, p, dr = _setup(inst)
    s = inst["sigma"]
    pen = penalty(m, inst["x"], s)
    C = dr ** 2 / (4 * m.tau * (1 - m.gamma_F) ** 3)
    return Evidence(pen.value - p.F, C * s, "<=", tol=pen.error_bound + objective_error_bound(p),
                    details={"psi": pen.value, "F": p.F, "C": C})


def _check_monotone(inst: Instance) -> Evidence:
    m, p, _ = _setup(inst)
    s = inst["sigma"]
    a, b = penalty(m, inst["x"], s / 2), penalty(m, inst["x"], s)
    gap = min(a.value - p.F, b.value - a.value)
    return Evidence(gap, 0.0, ">=", tol=a.error_bound + b.error_bound + objective_error_bound(p),
                    details={"psi_half": a.value, "psi": b.value, "F": p.F})


def _check_gradient(inst: Instance) -> Evidence:
    m, p, dr = _setup(inst)
    g = p.gradient("bc")
    s_max = 1e-2 * m.tau * (1 - m.gamma_F) / max(dr, 1e-12)
    s_min = s_max / 10
    e_max = float(np.linalg.norm(penalty(m, inst["x"], s_max).grad - g))
    pen_min = penalty(m, inst["x"], s_min)
    e_min = float(np.linalg.norm(pen_min.grad - g))
    # rounding floor of grad psi at s_min: occupancy solves (~1e3 SA eps relative) and the
    # policy error 2 eps_Q / tau of the two certified soft solves (eps_Q summed over both is
    # error_bound * s_min), over (1-gamma)^2 and s_min.
    eps_q = pen_min.error_bound * s_min
    J = max(1.0, float(np.abs(p.data["J_rF"]).max()), float(np.abs(p.data["J_rU"]).max()),
            float(np.abs(p.J_Q).max()))
    floor = (1e3 * p.pi.size * EPS + 2 * eps_q / m.tau) * J * (1 + dr) / (
        (1 - m.gamma_F) ** 2 * s_min)
    return Evidence(e_min, 0.1 ** 0.9 * e_max + floor, "<=",
                    details={"err_sigma_max": e_max, "sigma_max": s_max, "floor": floor})


register(Theorem(
    id="penalty.kwon_value_closeness",
    source=f"{NOTES}, §2.5; {KWON}",
    statement=r"\psi_\sigma(x)-F(x)\le\frac{\sigma(\Delta r_U)^2}{4\tau(1-\gamma)^3}",
    summary="the penalty overshoots F by at most O(sigma), explicit constant",
    instances=penalty_instances,
    check=_check_value,
))

register(Theorem(
    id="penalty.kwon_value_monotone",
    source=f"{NOTES}, §2.5 (W convex in sigma); {KWON}",
    statement=r"F(x)\le\psi_{\sigma/2}(x)\le\psi_\sigma(x)",
    summary="the penalty is above F and nondecreasing in sigma",
    instances=penalty_instances,
    check=_check_monotone,
))

register(Theorem(
    id="penalty.kwon_gradient_closeness",
    source=f"{NOTES}, §2.5; {KWON} (gradient closeness O(sigma))",
    statement=r"\|\nabla\psi_{\sigma/10}-\nabla F\|\le10^{-0.9}\|\nabla\psi_\sigma-\nabla F\|,"
              r"\ \sigma=10^{-2}\tau(1-\gamma)/\Delta r_U",
    summary="the penalty gradient converges to the hypergradient at rate O(sigma)",
    instances=penalty_instances,
    check=_check_gradient,
))
