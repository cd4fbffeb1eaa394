"""The experiments behind docs/results.md. Run each from the repository root as a module, e.g.
`python -m experiments.protocol.table`, so that `experiments`, `bench` and the project import as packages."""
