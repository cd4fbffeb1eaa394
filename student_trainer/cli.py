"""Command-line arguments of a training run, shared by `python -m student_trainer` and `kd train`."""

from __future__ import annotations

import argparse
import dataclasses
import textwrap

import yaml

from student_trainer.objectives.registry import objectives
from student_trainer.objectives.settings import as_text
from student_trainer.recipe_io import bundled_recipes, load_recipe, recipe_to_dict


def objectives_help(width: int = 100) -> str:
    """The registered objectives for `--help`: each name (`loss.kind`), what it trains, its supports and
    settings, so that `--set loss.<setting>=...` can be written without reading the source."""
    lines = ["objectives (loss.kind; each takes only its own settings as loss.<setting>; support: auto means "
             "its first support):"]
    for info in objectives():
        lines.append(f"  {info.name}: {info.summary}")
        details = [f"settings: {', '.join(info.settings.setting_names())}"]
        if info.supports:
            details.insert(0, "supports: " + ", ".join(f"{name} ({'+'.join(sorted(term.needs))})"
                                                        for name, term in info.supports.items()))
        if info.students != ("ar",):
            details.append(f"students: student.arch={'/'.join(info.students)}")
        lines += textwrap.wrap("; ".join(details), width, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines)


def objectives_markdown() -> str:
    """The registered objectives as the Markdown tables of docs/trainer.md (a test keeps them equal): each
    objective's settings with their defaults and its supports with the teacher answers each needs, then what
    every setting means."""
    rows = ["| `loss.kind` | what it trains | its settings (defaults) | supports (first = `auto`): teacher answers |",
            "| --- | --- | --- | --- |"]
    meanings: dict[str, str] = {}
    for info in objectives():
        defaults = ", ".join(f"`{f.name}` {as_text(f.default)}"
                             for f in dataclasses.fields(info.settings))
        supports = ", ".join(f"`{name}`: {' + '.join(sorted(term.needs))}" for name, term in info.supports.items())
        rows.append(f"| `{info.name}` | {info.summary} | {defaults} | {supports or 'none: no teacher'} |")
        for name, text in info.settings.help().items():
            meanings.setdefault(name, text)
    rows += ["", "| setting | meaning |", "| --- | --- |", *(f"| `loss.{n}` | {t} |" for n, t in meanings.items())]
    return "\n".join(rows)


def add_train_args(parser: argparse.ArgumentParser) -> None:
    """`--recipe`, repeatable `--set key.sub=value`, `--resume` and `--print-recipe`; the registered
    objectives and their settings are listed after the options."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = objectives_help()
    parser.add_argument("--recipe", required=True,
                        help=f"recipe YAML file, or a bundled recipe name ({', '.join(bundled_recipes())})")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe value, e.g. --set loss.alpha=0.7 --set max_steps=2000 (repeatable)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in output_dir from its newest checkpoint")
    parser.add_argument("--print-recipe", action="store_true",
                        help="print the complete validated recipe and exit without training")


def run_train(args: argparse.Namespace) -> int:
    """Validate the recipe (before any work), then train on Ray and print where the student went."""
    recipe = load_recipe(args.recipe, args.overrides)
    if args.print_recipe:
        print(yaml.safe_dump(recipe_to_dict(recipe), sort_keys=False), end="")
        return 0
    from student_trainer.launch import train

    outcome = train(recipe, resume=args.resume)
    metrics = outcome.manifest.metrics
    bleu, sentences = metrics.get("valid_bleu"), metrics.get("valid_sentences")
    decoding = outcome.manifest.metrics.get("valid_decoding", "greedy")
    quality = f"; valid BLEU ({decoding}, {sentences} sentences) {bleu:.2f}" if bleu is not None else ""
    print(f"[trainer] done: {metrics.get('steps')} steps; final student {outcome.final_dir}{quality}; "
          f"metrics {outcome.metrics_file}", flush=True)
    return 0
