r"""``boundlab solve`` for ``"bilevel"`` instances: F(x), its hypergradient four ways, agreement.

For a configurable MDP and leader point x (:class:`solvers.bilevel_instance.BilevelInstance`)
it computes, after a certified soft solve of the follower (bilevel notes §1.1-1.3, §5):

- the hyper-objective :math:`F(x)=\mu_0^\top V_U=E[\sum_t\gamma_U^tr_U(s_t,a_t;x)]`
  (a value, not scaled by :math:`1-\gamma_U`) with the certified error bound of
  :func:`solvers.hypergradient.objective_error_bound`;
- :math:`\nabla F(x)` by each exact form of :func:`solvers.hypergradient.exact_hypergradient`
  (``"implicit"``, ``"bc"``, ``"score"``) and by central finite differences
  (:func:`solvers.hypergradient.finite_difference_hypergradient`, with its error estimate);
- the pairwise max relative disagreement
  :math:`\|g_a-g_b\|_\infty/\max(\|g_a\|_\infty,\|g_b\|_\infty)` and a plain verdict.

The verdict holds when the exact forms agree within :data:`EXACT_AGREEMENT` (relative) and
finite differences agree with them within :data:`FD_FACTOR` times their own error estimate
per component (the same criterion as tests/solvers/test_hypergradient.py).
"""

from __future__ import annotations

import itertools
import sys
from typing import Any, TextIO

import numpy as np

from solvers.bilevel_instance import BilevelInstance
from solvers.configurable_mdp import ConfigurableMDP, SoftmaxKernel
from solvers.hypergradient import (
    EXACT_METHODS,
    bilevel_point,
    finite_difference_hypergradient,
    objective_error_bound,
)

__all__ = ["EXACT_AGREEMENT", "FD_FACTOR", "print_bilevel", "print_bilevel_summary",
           "solve_bilevel"]

#: The three exact forms share pi, Q_U, dbar_U and J_Q and differ only in the order of
#: O(S A n) sums and one extra LU solve (implicit); their rounding is ~1e-15 relative on
#: well-conditioned models and grows like cond(I - gamma M_pi) <= 2/(1 - gamma), so 1e-8
#: leaves six orders of margin while still catching any algebraic error (a 1% change of
#: J_Q moves the forms apart by ~1e-2).
EXACT_AGREEMENT: float = 1e-8
#: Finite differences carry their own estimate (Richardson truncation + rounding / h);
#: a factor 10 covers the estimate being a first-order approximation of the truncation.
FD_FACTOR: float = 10.0

_LABELS = {"implicit": "implicit (fixed-point differentiation)",
           "bc": "bc (Boltzmann covariance, BC-HG)", "score": "score (HPGD form)",
           "finite_difference": "central finite differences"}


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.abs(a).max()), float(np.abs(b).max()))
    diff = float(np.abs(a - b).max())
    return 0.0 if diff == 0.0 else diff / scale


def solve_bilevel(problem: BilevelInstance) -> dict[str, Any]:
    """JSON-able summary of ``problem`` (the dict ``print_bilevel_summary`` renders).

    Keys: ``type`` ("bilevel"), ``S``, ``A``, ``n``, ``gamma_F``, ``gamma_U``, ``tau``,
    ``kernel``, ``x``, ``follower`` (status, method, iterations, ``error_bound`` on
    :math:`\\|Q_F-Q_F^\\star\\|_\\infty`), ``F``, ``F_error_bound``, ``gradients`` (method ->
    list), ``fd`` (``h``, ``error_estimate``), ``disagreement`` ("a vs b" -> relative),
    ``exact_agree``, ``fd_agree``, ``verdict``.
    """
    model, x = problem.model, problem.x
    point = bilevel_point(model, x, None)  # tightest certified follower solve
    fol = point.follower
    S, A = point.pi.shape
    grads = {m: point.gradient(m) for m in EXACT_METHODS}
    fd = finite_difference_hypergradient(model, x)
    grads["finite_difference"] = fd.grad
    names = list(grads)
    dis = {f"{a} vs {b}": _rel(grads[a], grads[b]) for a, b in itertools.combinations(names, 2)}
    exact_worst = max(dis[f"{a} vs {b}"] for a, b in itertools.combinations(EXACT_METHODS, 2))
    fd_err = np.abs(fd.grad - grads["implicit"])
    exact_agree = exact_worst <= EXACT_AGREEMENT
    fd_agree = bool(np.all(fd_err <= FD_FACTOR * fd.error_estimate))
    if exact_agree and fd_agree:
        verdict = (f"AGREE: the three exact forms agree to {exact_worst:.1e} relative "
                   f"(<= {EXACT_AGREEMENT:g}) and finite differences agree within "
                   f"{FD_FACTOR:g}x their error estimate (max |fd - exact| = "
                   f"{fd_err.max():.1e})")
    else:
        parts = []
        if not exact_agree:
            parts.append(f"the exact forms differ by {exact_worst:.3g} relative "
                         f"(> {EXACT_AGREEMENT:g})")
        if not fd_agree:
            i = int(np.argmax(fd_err / np.maximum(fd.error_estimate, 1e-300)))
            parts.append(f"finite differences differ from the implicit form by "
                         f"{fd_err[i]:.3g} in component {i}, more than {FD_FACTOR:g}x their "
                         f"error estimate {fd.error_estimate[i]:.3g}")
        verdict = "DISAGREE: " + "; ".join(parts)
    kernel = ("softmax (x-dependent)" if isinstance(model.kernel, SoftmaxKernel) else
              "fixed " + ("sparse" if point.data["follower"].is_sparse else "dense"))
    return {
        "type": "bilevel", "S": S, "A": A, "n": model.n, "gamma_F": model.gamma_F,
        "gamma_U": model.gamma_U, "tau": model.tau, "kernel": kernel, "x": x.tolist(),
        "follower": {"status": fol.status, "method": fol.method, "iterations": fol.iterations,
                     "error_bound": fol.error_bound, "message": fol.message},
        "F": point.F, "F_error_bound": objective_error_bound(point),
        "gradients": {k: v.tolist() for k, v in grads.items()},
        "fd": {"h": fd.h, "error_estimate": fd.error_estimate.tolist()},
        "disagreement": dis, "exact_agree": bool(exact_agree), "fd_agree": fd_agree,
        "verdict": verdict,
    }


def _vec(v: list[float]) -> str:
    return "[" + ", ".join(f"{t: .12g}" for t in v) + "]"


def print_bilevel_summary(out: dict[str, Any], file: TextIO | None = None) -> None:
    """Render a :func:`solve_bilevel` summary for a terminal."""
    f = sys.stdout if file is None else file
    fol = out["follower"]
    print(f"bilevel: S = {out['S']}, A = {out['A']}, n = {out['n']}, gamma_F = "
          f"{out['gamma_F']}, gamma_U = {out['gamma_U']}, tau = {out['tau']}, kernel "
          f"{out['kernel']}", file=f)
    print(f"x = {_vec(out['x'])}", file=f)
    print(f"follower: {fol['method']}, {fol['status']} after {fol['iterations']} iterations, "
          f"||Q_F - Q_F*||_inf <= {fol['error_bound']:.3g}", file=f)
    print(f"F(x) = {out['F']!r}  (leader value E[sum_t gamma_U^t r_U], not scaled by "
          f"1 - gamma_U; certified error <= {out['F_error_bound']:.3g})", file=f)
    print("hypergradient dF/dx:", file=f)
    for k, g in out["gradients"].items():
        print(f"  {_LABELS[k]:<40} {_vec(g)}", file=f)
    print(f"  (finite differences: h = {out['fd']['h']:.3g}, error estimate <= "
          f"{max(out['fd']['error_estimate']):.3g})", file=f)
    print("pairwise max relative disagreement:", file=f)
    for pair, d in out["disagreement"].items():
        print(f"  {pair:<40} {d:.3g}", file=f)
    print(f"verdict: {out['verdict']}", file=f)


def print_bilevel(model: ConfigurableMDP, x: np.ndarray,
                  file: TextIO | None = None) -> dict[str, Any]:
    """Solve ``(model, x)``, print the summary to ``file`` (default stdout) and return it."""
    out = solve_bilevel(BilevelInstance(model, x))
    print_bilevel_summary(out, file)
    return out
