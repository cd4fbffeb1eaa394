"""The `kd` command line: one entry point for data, tokenizer, training, serving, export and evaluation."""
