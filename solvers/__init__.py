"""boundlab's exact numerical engines (no plotting, no knowledge of papers).

Values everywhere are expected discounted sums E[sum_t gamma^t r_t], not
scaled by 1 - gamma; occupancy measures are normalised to sum to 1.
"""

from .ccmdp import (
    AugmentedModel,
    augment_with_flag,
    violation_probability,
    violation_probability_enumeration,
)
from .ccmdp_surrogates import boole_bound, h_unsafe
from .cmdp import CMDPResult, lagrangian_dual, solve_cmdp
from .errors import ModelError
from .evaluation import PolicyValues, evaluate, occupancy, policy_kernel
from .flipping import episode_mixture_values, per_step_flip, recalibrate_flip
from .gridworld import GridWorld, gridworld
from .gym_adapter import from_gymnasium
from .instances import dumps_instance, load_instance, loads_instance, register_instance_type
from .mdp import TabularMDP
from .planning import (
    PlanningResult,
    backward_induction,
    bellman_q,
    policy_iteration,
    value_iteration,
)
from .planning_certificate import Certificate
from .policies import as_policy, deterministic_policy, greedy_policy, uniform_policy
from .random_models import as_generator, random_mdp

__all__ = [
    "AugmentedModel",
    "CMDPResult",
    "Certificate",
    "GridWorld",
    "ModelError",
    "PlanningResult",
    "PolicyValues",
    "TabularMDP",
    "as_generator",
    "as_policy",
    "augment_with_flag",
    "backward_induction",
    "bellman_q",
    "boole_bound",
    "deterministic_policy",
    "dumps_instance",
    "episode_mixture_values",
    "evaluate",
    "from_gymnasium",
    "greedy_policy",
    "gridworld",
    "h_unsafe",
    "lagrangian_dual",
    "load_instance",
    "loads_instance",
    "occupancy",
    "per_step_flip",
    "policy_iteration",
    "policy_kernel",
    "random_mdp",
    "recalibrate_flip",
    "register_instance_type",
    "solve_cmdp",
    "uniform_policy",
    "value_iteration",
    "violation_probability",
    "violation_probability_enumeration",
]
