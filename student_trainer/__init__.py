"""The Ray-based student trainer: recipes, data streaming, teacher access, training loop and Seq-KD data.

Entry points: `python -m student_trainer --recipe FILE [--set key=value ...] [--resume]`, `kd train` and
`kd distill-data`. The Python API is `student_trainer.launch.train` and
`student_trainer.distill_data.distill_data`.
"""
