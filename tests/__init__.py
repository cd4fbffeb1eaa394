"""The test suite (a regular package, so that `tests.*` modules resolve here before any installed package
named `tests`: argostranslate installs one, which would shadow a namespace package in spawned workers)."""
