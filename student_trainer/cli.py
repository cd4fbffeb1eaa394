"""Command-line arguments of a training run, shared by `python -m student_trainer` and `kd train`."""

from __future__ import annotations

import argparse

import yaml

from student_trainer.recipe_io import bundled_recipes, load_recipe, recipe_to_dict


def add_train_args(parser: argparse.ArgumentParser) -> None:
    """`--recipe`, repeatable `--set key.sub=value`, `--resume` and `--print-recipe`."""
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
