r"""Boltzmann covariance identity, finite and trajectory-level (bilevel notes §2.1, §2.3, §6).

Finite family :math:`p_x(y)\propto\exp(E_x(y)/\tau)`:

.. math::
    \nabla_xE_{p_x}[g_x]=E_{p_x}[\nabla_xg_x]+\tfrac1\tau\mathrm{Cov}_{p_x}(g_x,\nabla_xE_x).

Trajectory level (finite horizon H, undiscounted, soft backward induction with
:math:`r_x=r_0+\Phi x`, statistic :math:`G(\omega)=\sum_tg(s_t,a_t)` independent of x):
the trajectory law is :math:`P(\omega|a)\exp((R_x+D_x-V_{x,0}(s_0))/\tau)` with
:math:`D_x=\sum_t(E_{s'}V_{t+1}(s')-V_{t+1}(s_{t+1}))`, so

.. math::
    \nabla_xE[G]=\tfrac1\tau E_{s_0\sim\mu_0}
    \mathrm{Cov}_\omega\big(G,\nabla_x(R_x+D_x)\,\big|\,s_0\big)

for every kernel (covariances conditional on :math:`s_0`, the law being
:math:`p_x(\omega|s_0)`), while the naive form with :math:`\nabla_xR_x` alone holds only for
deterministic kernels (then :math:`D=0`). The naive form is registered as violated
for stochastic kernels (a finding of the notes) next to the corrected R + D form.

The left sides are derivatives by the complex-step method,
:math:`f'(x)=\mathrm{Im}\,f(x+ih e_i)/h` with :math:`h=10^{-30}` (no cancellation:
exact to a few ulps), of an exact enumeration of all trajectories under the soft
policy computed here in complex arithmetic, independently of the covariance formula.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st

from solvers import TabularMDP

from .bilevel import NOTES
from .core import Evidence, Instance, Theorem
from .registry import register

__all__ = ["covariance_sides", "trajectory_instances", "trajectory_sides"]

_H_CS = 1e-30  # complex step


def _lse(Z: np.ndarray, tau: float) -> np.ndarray:
    m = Z.real.max(axis=-1, keepdims=True)
    return (m + tau * np.log(np.exp((Z - m) / tau).sum(axis=-1, keepdims=True)))[..., 0]


# -- boltzmann.covariance_identity -------------------------------------------------------------
@st.composite
def finite_families(draw: st.DrawFn) -> Instance:
    """|Y| in 2..20, n in 1..3, tau in [0.05, 5]; E_x = e + W x + c sin(U x), g_x = h + B x^2."""
    Y, n = draw(st.integers(2, 20)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return {"e": rng.normal(size=Y), "W": rng.normal(size=(Y, n)), "c": rng.normal(size=Y),
            "U": rng.normal(size=(Y, n)), "h": rng.normal(size=Y), "B": rng.normal(size=(Y, n)),
            "tau": draw(st.floats(0.05, 5.0)), "x": rng.normal(size=n)}


def _family(inst: Instance, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    E = inst["e"] + inst["W"] @ x + inst["c"] * np.sin(inst["U"] @ x)
    g = inst["h"] + inst["B"] @ (x * x)
    p = np.exp((E - E.real.max()) / inst["tau"])
    return E, g, p / p.sum()


def covariance_sides(inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    """(complex-step gradient of E_p[g], E[grad g] + Cov(g, grad E)/tau), both (n,)."""
    x = np.asarray(inst["x"], float)
    n = x.size
    lhs = np.array([(lambda t: (t[2] * t[1]).sum().imag / _H_CS)(
        _family(inst, x + 1j * _H_CS * np.eye(n)[i])) for i in range(n)])
    _E, g, p = _family(inst, x)
    dE = inst["W"] + (inst["c"] * np.cos(inst["U"] @ x))[:, None] * inst["U"]
    dg = 2 * inst["B"] * x
    cov = p @ (g[:, None] * dE) - (p @ g) * (p @ dE)
    return lhs, p @ dg + cov / inst["tau"]


def _check_covariance(inst: Instance) -> Evidence:
    lhs, rhs = covariance_sides(inst)
    # both sides are sums of |Y| <= 20 terms of size <= max|g|(|dE| + |dg|)/tau in float64:
    # 1e-11 relative covers the rounding (complex-step itself has no truncation at h = 1e-30).
    scale = max(1.0, float(np.abs(lhs).max()), float(np.abs(rhs).max()))
    return Evidence(float(np.abs(lhs - rhs).max()), 0.0, "==", tol=1e-11 * scale / min(
        1.0, inst["tau"]), details={"scale": scale})


register(Theorem(
    id="boltzmann.covariance_identity",
    source=f"{NOTES}, §2.1",
    statement=r"\nabla_xE_{p_x}[g_x]=E_{p_x}[\nabla_xg_x]+\tfrac1\tau\mathrm{Cov}_{p_x}"
              r"(g_x,\nabla_xE_x),\ p_x\propto e^{E_x/\tau}",
    summary="finite Boltzmann covariance identity (complex-step derivative vs covariance)",
    instances=finite_families,
    check=_check_covariance,
    proof_checks=("boltzmann_covariance_identity_three_states",),
))


# -- trajectory-level identity -------------------------------------------------------------
@st.composite
def trajectory_instances(draw: st.DrawFn, deterministic: bool = False) -> Instance:
    """S 1..3, A 1..2, H 1..3, n 1..2; deterministic (one-hot) or stochastic kernels."""
    S, A, H, n = (draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 3)),
                  draw(st.integers(1, 2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if deterministic:
        P = np.eye(S)[rng.integers(0, S, size=(S, A))]
    else:
        P = rng.dirichlet(np.full(S, draw(st.sampled_from([0.3, 1.0, 5.0]))), size=(S, A))
    return {"mdp": TabularMDP(P, rng.normal(size=(S, A)), rng.dirichlet(np.ones(S)), horizon=H),
            "Phi": rng.normal(size=(S, A, n)), "g": rng.normal(size=(S, A)),
            "tau": draw(st.floats(0.1, 3.0)), "x": rng.normal(size=n)}


def _soft_backward(P: np.ndarray, r: np.ndarray, H: int, tau: float):
    """Complex-safe soft backward induction: V (H+1, S), pi (H, S, A)."""
    S, A = r.shape
    V = np.zeros((H + 1, S), dtype=r.dtype)
    pi = np.empty((H, S, A), dtype=r.dtype)
    for t in range(H - 1, -1, -1):
        Q = r + P @ V[t + 1]
        V[t] = _lse(Q, tau)
        pi[t] = np.exp((Q - V[t][:, None]) / tau)
    return V, pi


def _enumerate(inst: Instance, x: np.ndarray):
    """All trajectories: list of (states, actions), their probabilities, V (H+1, S)."""
    mdp = inst["mdp"]
    P, H = mdp.dense_P(), mdp.horizon
    r = mdp.r + inst["Phi"] @ x
    V, pi = _soft_backward(P, r, H, inst["tau"])
    trajs, probs = [], []
    for states in itertools.product(range(mdp.S), repeat=H + 1):
        for acts in itertools.product(range(mdp.A), repeat=H):
            pr = mdp.mu0[states[0]] + 0 * x[0]
            for t in range(H):
                pr = pr * pi[t, states[t], acts[t]] * P[states[t], acts[t], states[t + 1]]
            trajs.append((states, acts))
            probs.append(pr)
    return trajs, np.array(probs), V


def trajectory_sides(inst: Instance) -> dict:
    r"""lhs (complex-step :math:`\nabla E[G]`), naive :math:`\mathrm{Cov}(G,\nabla R)/\tau` and
    corrected :math:`\mathrm{Cov}(G,\nabla(R+D))/\tau`, each (n,)."""
    mdp, Phi, g, tau = inst["mdp"], inst["Phi"], inst["g"], inst["tau"]
    x = np.asarray(inst["x"], float)
    n, H, P = x.size, mdp.horizon, mdp.dense_P()
    lhs, dV = np.empty(n), np.empty((n, H + 1, mdp.S))
    for i in range(n):
        trajs, probs, Vc = _enumerate(inst, x + 1j * _H_CS * np.eye(n)[i])
        G = np.array([sum(g[s[t], a[t]] for t in range(H)) for s, a in trajs])
        lhs[i] = (probs * G).sum().imag / _H_CS
        dV[i] = Vc.imag / _H_CS
    trajs, probs, _V = _enumerate(inst, x)
    probs = probs.real
    G = np.array([sum(g[s[t], a[t]] for t in range(H)) for s, a in trajs])
    dR = np.array([sum(Phi[s[t], a[t]] for t in range(H)) for s, a in trajs])
    dD = np.array([sum(P[s[t], a[t]] @ dV[:, t + 1].T - dV[:, t + 1, s[t + 1]]
                       for t in range(H)) for s, a in trajs])

    # covariance conditional on s_0 (the law is p_x(w | s_0)), averaged over mu0:
    # E_{s0} Cov(G, Y | s0) = E[(G - E[G | s0]) Y]
    s0 = np.array([s[0] for s, _ in trajs])
    mass = np.bincount(s0, weights=probs, minlength=mdp.S)
    cond = np.bincount(s0, weights=probs * G, minlength=mdp.S) / np.where(mass > 0, mass, 1)
    Gc = G - cond[s0]

    def cov(Y):
        return probs @ (Gc[:, None] * Y) / tau

    return {"lhs": lhs, "naive": cov(dR), "corrected": cov(dR + dD), "G": G, "probs": probs}


def _tol(sides: dict, tau: float) -> float:
    # sums over <= 3^4 * 2^3 = 648 trajectories of products of <= 8 rounded factors;
    # 1e-11 relative to the scale (divided by tau for the covariance) covers it.
    scale = max(1.0, float(np.abs(sides["G"]).max()))
    return 1e-11 * scale * max(1.0, 1.0 / tau) * 10


def _check_naive(inst: Instance) -> Evidence:
    s = trajectory_sides(inst)
    return Evidence(float(np.abs(s["lhs"] - s["naive"]).max()), 0.0, "==",
                    tol=_tol(s, inst["tau"]),
                    details={"corrected_error": float(np.abs(s["lhs"] - s["corrected"]).max())})


def _check_corrected(inst: Instance) -> Evidence:
    s = trajectory_sides(inst)
    return Evidence(float(np.abs(s["lhs"] - s["corrected"]).max()), 0.0, "==",
                    tol=_tol(s, inst["tau"]),
                    details={"naive_error": float(np.abs(s["lhs"] - s["naive"]).max())})


_STMT = (r"\nabla_xE[G]=\tfrac1\tau E_{s_0}\mathrm{Cov}_\omega(G,\nabla_xR_x\mid s_0),\ "
         r"R_x=\sum_tr_x(s_t,a_t)")

register(Theorem(
    id="trajectory.boltzmann_deterministic",
    source=f"{NOTES}, §2.3; Ziebart 2010 (MaxCausalEnt)",
    statement=_STMT + r"\quad(P\ \text{deterministic})",
    summary="trajectory-level covariance identity with energy R holds for deterministic kernels",
    instances=lambda: trajectory_instances(deterministic=True),
    check=_check_naive,
))

register(Theorem(
    id="trajectory.boltzmann_stochastic_fails",
    source=f"{NOTES}, §2.3: the naive trajectory Boltzmann form P(w)exp(R/tau)/Z under "
           "stochastic dynamics (the optimistic control-as-inference posterior; Levine 2018)",
    statement=_STMT + r"\quad(P\ \text{stochastic; false})",
    summary="naive trajectory covariance identity with energy R under stochastic kernels "
            "(false: needs R + D)",
    instances=trajectory_instances,
    check=_check_naive,
    expected="violated",
    counterexample="trajectory.boltzmann_stochastic_fails.json",
    corrected="trajectory.boltzmann_stochastic_rd",
))

register(Theorem(
    id="trajectory.boltzmann_stochastic_rd",
    source=f"{NOTES}, §2.3 (corrected form with the martingale term D)",
    statement=r"\nabla_xE[G]=\tfrac1\tau E_{s_0}\mathrm{Cov}_\omega\big(G,\nabla_x(R_x+D_x)"
              r"\mid s_0\big),\ "
              r"D_x=\sum_t\big(E_{s'}V_{x,t+1}(s')-V_{x,t+1}(s_{t+1})\big)",
    summary="trajectory covariance identity with energy R + D holds for any kernel",
    instances=trajectory_instances,
    check=_check_corrected,
))
