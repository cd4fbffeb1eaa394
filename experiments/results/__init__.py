"""The superseded student-tiny comparison of docs/results-2026-11-22.md: its subset, runs and table."""
