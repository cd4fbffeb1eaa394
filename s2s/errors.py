"""Exception types of the shared ML layer, so that callers (CLI, services) can map them to clear messages."""


class KDError(Exception):
    """Base class for every error this project raises on purpose (bad input, incompatible artefacts)."""


class DataError(KDError):
    """A data file is missing, unreadable or malformed."""


class TokenizerError(KDError):
    """A tokenizer folder is missing files or does not follow the Marian layout."""


class CheckpointError(KDError):
    """A checkpoint folder is incomplete, of an unknown format version or otherwise unusable."""


class VocabularyMismatchError(KDError):
    """Two artefacts that must share a vocabulary (teacher and student, model and tokenizer) do not."""
