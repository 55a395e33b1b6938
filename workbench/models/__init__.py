"""Running models: tiny test model, loader, backends, planner, resumable run jobs.

torch/transformers are imported lazily inside functions of this package only, so the app and
the analysis never pay for them (and a light install without torch works).
"""
