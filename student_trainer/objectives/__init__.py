"""Training objectives: each declared once, in a module of its own, and registered by name.

`registry` holds the declarations (`ObjectiveInfo`: name, settings, students, supports and what each
needs from the teacher, step); `settings` the typed settings they share; `terms` and `distill` the
distillation term base and the step of every `(1-w)·NLL + w·D` objective; `driver.Objective` runs the
recipe's objective in the training loop. One module per objective: `nll`, `word_kd`, `ka`, `ka_sampled`,
`jsd`, `tie_kd`, `cmlm`. This package imports nothing at import time, so that naming its types is cheap.
"""
