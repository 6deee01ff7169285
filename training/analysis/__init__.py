"""Analysis of trained runs: evaluation on seeded episodes (``evaluate``), perturbation suites
(``robustness``), the rollout viewer (``viewer``), grids of runs (``sweep``), Bayesian
optimisation of reservoir heterogeneity (``bayesopt``) and figures (``plots``). The functions
users call most are re-exported by :mod:`plasticagents.training`."""
