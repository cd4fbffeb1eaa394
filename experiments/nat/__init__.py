"""The Mask-Predict experiment: its runs (run.sh) and its tables (table.py)."""
