"""boundlab's exact numerical engines (no plotting, no knowledge of papers).

Values everywhere are expected discounted sums E[sum_t gamma^t r_t], not
scaled by 1 - gamma; occupancy measures are normalised to sum to 1.
"""

from .bilevel_instance import BilevelInstance, decode_bilevel, encode_bilevel
from .ccmdp import (
    AugmentedModel,
    augment_with_flag,
    violation_probability,
    violation_probability_enumeration,
)
from .ccmdp_frontier import frontier_enumeration, j_det_milp, least_concave_majorant
from .ccmdp_solve import CCMDPResult, solve_ccmdp
from .ccmdp_surrogates import boole_bound, h_unsafe
from .cmdp import CMDPResult, lagrangian_dual, solve_cmdp
from .configurable_mdp import (
    ConfigurableMDP,
    FixedKernel,
    LinearReward,
    SoftmaxKernel,
    TanhReward,
    incentive_table,
)
from .errors import ModelError
from .evaluation import PolicyValues, evaluate, occupancy, policy_kernel
from .flip_lp import (
    MixtureLPResult,
    best_pair_mixture,
    concave_majorant,
    hull_pair,
    majorant_value,
    solve_mixture_lp,
    upper_hull,
)
from .flipping import episode_mixture_values, per_step_flip, recalibrate_flip
from .flipping_decomposition import (
    DecompositionCheck,
    FlippingDecomposition,
    flipping_decomposition,
    one_state_mixture_probability,
)
from .four_rooms import (
    FourRooms,
    IncentiveCostReward,
    SoftmaxIncentiveReward,
    four_rooms,
    incentive_ascent,
)
from .gridworld import GridWorld, gridworld
from .gym_adapter import from_gymnasium
from .hypergradient import (
    bilevel_point,
    exact_hypergradient,
    finite_difference_hypergradient,
    hyper_objective,
)
from .hypergradient_sampling import sampled_hypergradient
from .instances import dumps_instance, load_instance, loads_instance, register_instance_type
from .kl_bandit import KLBandit, KLBanditResult, gibbs_policy, solve_kl_bandit
from .leader_opt import projected_gradient_ascent
from .markov_game import (
    SoftmaxTableLeader,
    StackelbergGame,
    follower_mdp,
    naive_direct_gradient,
    solve_follower,
    stackelberg_hypergradient,
    stackelberg_objective,
    stackelberg_point,
)
from .markov_game_sampling import sampled_stackelberg_hypergradient
from .markov_qre import QREGame, designer_hypergradient, qre_jacobian, solve_qre
from .mdp import TabularMDP
from .osil_bounds import pd_lower_bounds
from .penalty import penalty
from .planning import (
    PlanningResult,
    backward_induction,
    bellman_q,
    policy_iteration,
    value_iteration,
)
from .planning_certificate import Certificate
from .poisoning import (
    PoisoningCertificate,
    PoisoningInstance,
    PoisoningResult,
    min_cost_poisoning,
)
from .policies import as_policy, deterministic_policy, greedy_policy, uniform_policy
from .random_models import as_generator, random_mdp
from .relative_budget import (
    BudgetTrajectory,
    SampleSize,
    classify_regime,
    iterate_budget,
    regime_exponent,
    regime_law,
    sample_size,
)
from .rlvr_simulation import (
    SimulationResult,
    TaskPopulation,
    lognormal_population,
    simulate,
    sweep_budgets,
)
from .sacpo_bounds import SacpoEstimate, sacpo_bounds
from .safemil import bag_hit_probability, score_order_probability
from .sample_test import hoeffding_pass_bound, pass_probability
from .soft_dp import (
    ConvergenceError,
    SoftResult,
    soft_finite_horizon,
    soft_policy_iteration,
    soft_value_iteration,
)
from .time_to_solution import EmpiricalTime, GammaTime, GeometricTime, TimeToSolution
from .toy4 import discrete_toy4, toy4_profile
from .trajectory_dpo import identity_residual, population_dpo, soft_backward_induction

__all__ = [
    "AugmentedModel",
    "BilevelInstance",
    "BudgetTrajectory",
    "CCMDPResult",
    "CMDPResult",
    "Certificate",
    "ConfigurableMDP",
    "ConvergenceError",
    "DecompositionCheck",
    "EmpiricalTime",
    "FixedKernel",
    "FlippingDecomposition",
    "FourRooms",
    "GammaTime",
    "GeometricTime",
    "GridWorld",
    "IncentiveCostReward",
    "KLBandit",
    "KLBanditResult",
    "LinearReward",
    "MixtureLPResult",
    "ModelError",
    "PlanningResult",
    "PoisoningCertificate",
    "PoisoningInstance",
    "PoisoningResult",
    "PolicyValues",
    "QREGame",
    "SacpoEstimate",
    "SampleSize",
    "SimulationResult",
    "SoftResult",
    "SoftmaxIncentiveReward",
    "SoftmaxKernel",
    "SoftmaxTableLeader",
    "StackelbergGame",
    "TabularMDP",
    "TanhReward",
    "TaskPopulation",
    "TimeToSolution",
    "as_generator",
    "as_policy",
    "augment_with_flag",
    "backward_induction",
    "bag_hit_probability",
    "bellman_q",
    "best_pair_mixture",
    "bilevel_point",
    "boole_bound",
    "classify_regime",
    "concave_majorant",
    "decode_bilevel",
    "designer_hypergradient",
    "deterministic_policy",
    "discrete_toy4",
    "dumps_instance",
    "encode_bilevel",
    "episode_mixture_values",
    "evaluate",
    "exact_hypergradient",
    "finite_difference_hypergradient",
    "flipping_decomposition",
    "follower_mdp",
    "four_rooms",
    "from_gymnasium",
    "frontier_enumeration",
    "gibbs_policy",
    "greedy_policy",
    "gridworld",
    "h_unsafe",
    "hoeffding_pass_bound",
    "hull_pair",
    "hyper_objective",
    "identity_residual",
    "incentive_ascent",
    "incentive_table",
    "iterate_budget",
    "j_det_milp",
    "lagrangian_dual",
    "least_concave_majorant",
    "load_instance",
    "loads_instance",
    "lognormal_population",
    "majorant_value",
    "min_cost_poisoning",
    "naive_direct_gradient",
    "occupancy",
    "one_state_mixture_probability",
    "pass_probability",
    "pd_lower_bounds",
    "penalty",
    "per_step_flip",
    "policy_iteration",
    "policy_kernel",
    "population_dpo",
    "projected_gradient_ascent",
    "qre_jacobian",
    "random_mdp",
    "recalibrate_flip",
    "regime_exponent",
    "regime_law",
    "register_instance_type",
    "sacpo_bounds",
    "sample_size",
    "sampled_hypergradient",
    "sampled_stackelberg_hypergradient",
    "score_order_probability",
    "simulate",
    "soft_backward_induction",
    "soft_finite_horizon",
    "soft_policy_iteration",
    "soft_value_iteration",
    "solve_ccmdp",
    "solve_cmdp",
    "solve_follower",
    "solve_kl_bandit",
    "solve_mixture_lp",
    "solve_qre",
    "stackelberg_hypergradient",
    "stackelberg_objective",
    "stackelberg_point",
    "sweep_budgets",
    "toy4_profile",
    "uniform_policy",
    "upper_hull",
    "value_iteration",
    "violation_probability",
    "violation_probability_enumeration",
]
