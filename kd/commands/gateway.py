"""`kd export` (checkpoint → CTranslate2), `kd shortlist` (its lexical shortlist) and `kd gateway` (serve the
exports over REST)."""

from __future__ import annotations

import argparse
from pathlib import Path

from s2s.export import QUANTIZATIONS
from s2s.languages import Languages


def register(sub: argparse._SubParsersAction) -> None:
    """Add `kd export` and `kd gateway`."""
    ex = sub.add_parser("export", help="convert a student or teacher to CTranslate2 for the gateway, or to an Argos "
                                       "Translate package")
    ex.add_argument("--model", type=Path, required=True,
                    help="checkpoint, or Hugging Face folder of a supported family (docs/own-teacher.md); with "
                         "--format argos also an existing export folder")
    ex.add_argument("--out", type=Path, required=True,
                    help="export folder, e.g. models/<id>, or with --format argos the package file, e.g. "
                         "es_en.argosmodel; an older export there is replaced atomically")
    ex.add_argument("--quantization", choices=QUANTIZATIONS, default="int8", help="weight type (default int8)")
    ex.add_argument("--eval-tsv", type=Path, default=None,
                    help="measure the export's greedy BLEU on this TSV (columns es, en) and record it")
    ex.add_argument("--eval-limit", type=int, default=None, help="use only the first N sentences of --eval-tsv")
    ex.add_argument("--vmap", type=Path, default=None,
                    help="vocabulary map from `kd shortlist`: decode with a lexical shortlist (faster output layer)")
    ex.add_argument("--format", choices=("ctranslate2", "argos"), default="ctranslate2",
                    help="ctranslate2: an export folder for the gateway (default); argos: an Argos Translate "
                         "package file (--out NAME.argosmodel) for Argos Translate and LibreTranslate")
    ex.add_argument("--package-version", default="1.0", help="version of an Argos package (default 1.0)")
    from kd.args import add_language_args

    add_language_args(ex)
    ex.set_defaults(func=run_export)
    sl = sub.add_parser("shortlist", help="a lexical shortlist (CTranslate2 vocabulary map) from a parallel corpus",
                        description="For each source piece, the target pieces that co-occur with it most often "
                                    "(p(t|s)), plus the most frequent target pieces; for `kd export --vmap`.")
    sl.add_argument("--data", type=Path, required=True, help="parallel TSV (best: the distilled training data)")
    sl.add_argument("--tokenizer", type=Path, required=True, help="the model's tokenizer (or model) folder")
    sl.add_argument("--out", type=Path, required=True, help="vocabulary map file to write")
    sl.add_argument("--per-source", type=int, default=50, help="candidates per source piece (default 50)")
    sl.add_argument("--frequent", type=int, default=200, help="always-allowed frequent target pieces (default 200)")
    sl.add_argument("--check", type=Path, default=None,
                    help="a TSV whose target pieces the shortlist should allow: prints the coverage")
    sl.set_defaults(func=run_shortlist)
    gw = sub.add_parser("gateway", help="serve the models under a folder over REST (FastAPI + CTranslate2)",
                        description="Every KD_GATEWAY_* environment variable (see docs/gateway.md) applies; "
                                    "flags win over the environment.")
    from services.gateway.server import add_arguments

    add_arguments(gw)
    gw.set_defaults(func=run_gateway)


def run_export(args: argparse.Namespace) -> int:
    from s2s.errors import KDError
    from s2s.export import export_checkpoint

    if args.eval_limit is not None and args.eval_limit < 1:
        raise KDError(f"--eval-limit must be at least 1, got {args.eval_limit}")
    from kd.args import languages_from_args

    languages = languages_from_args(args)
    if args.format == "argos":
        return _export_argos(args, languages)
    info = export_checkpoint(args.model, args.out, args.quantization, args.eval_tsv, args.eval_limit, args.vmap,
                             languages=languages)
    bleu = f", BLEU {info.bleu:.2f} on {info.bleu_sentences} sentences" if info.bleu is not None else ""
    print(f"exported {args.model} -> {args.out} ({info.quantization}, {info.size_bytes / 1e6:.1f} MB{bleu})")
    return 0


def _export_argos(args: argparse.Namespace, languages: Languages) -> int:
    """The normal export into a temporary folder (unless --model already is one), packaged by `s2s.argos`."""
    import tempfile

    from s2s.argos import write_argos_package
    from s2s.ct2_runtime import is_export, read_export_info
    from s2s.export import export_checkpoint

    with tempfile.TemporaryDirectory(prefix="kd-argos-") as tmp:
        folder = Path(args.model)
        if not is_export(folder):
            folder = Path(tmp) / "export"
            export_checkpoint(args.model, folder, args.quantization, args.eval_tsv, args.eval_limit, args.vmap,
                              languages=languages)
        pair = (languages.src, languages.tgt) if languages.src and languages.tgt else None
        package = write_argos_package(folder, args.out, pair, args.package_version)
        info = read_export_info(folder)
    bleu = f", BLEU {info.bleu:.2f} on {info.bleu_sentences} sentences" if info.bleu is not None else ""
    print(f"exported {args.model} -> {package.path} (Argos package {package.from_code}->{package.to_code} "
          f"version {package.package_version}, {info.quantization}, {package.size_bytes / 1e6:.1f} MB{bleu}); "
          "install it with argostranslate.package.install_from_path (see docs/gateway.md)")
    return 0


def run_shortlist(args: argparse.Namespace) -> int:
    from s2s.corpus import read_corpus
    from s2s.shortlist import build_shortlist, coverage, write_vmap
    from s2s.tokenizer import Tokenizer

    tokenizer = Tokenizer(args.tokenizer)
    pairs = [(p.src, p.tgt) for p in read_corpus(args.data).pairs]
    shortlist = build_shortlist(tokenizer, pairs, args.per_source, args.frequent)
    write_vmap(shortlist, args.out)
    print(f"shortlist of {len(shortlist.candidates)} source pieces (+{len(shortlist.frequent)} always) -> {args.out}")
    if args.check is not None:
        check = [(p.src, p.tgt) for p in read_corpus(args.check).pairs]
        print(f"coverage of {args.check} target pieces: {100 * coverage(shortlist, tokenizer, check):.2f}%")
    return 0


def run_gateway(args: argparse.Namespace) -> int:
    from services.gateway.server import serve, settings_from_args

    serve(settings_from_args(args), args.log_level)
    return 0
