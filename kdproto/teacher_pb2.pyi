# ruff: noqa
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DTYPE_UNSPECIFIED: _ClassVar[DType]
    DTYPE_UINT16: _ClassVar[DType]
    DTYPE_INT32: _ClassVar[DType]
    DTYPE_INT64: _ClassVar[DType]
    DTYPE_FLOAT16: _ClassVar[DType]
    DTYPE_FLOAT32: _ClassVar[DType]
    DTYPE_UINT8: _ClassVar[DType]
DTYPE_UNSPECIFIED: DType
DTYPE_UINT16: DType
DTYPE_INT32: DType
DTYPE_INT64: DType
DTYPE_FLOAT16: DType
DTYPE_FLOAT32: DType
DTYPE_UINT8: DType

class Tensor(_message.Message):
    __slots__ = ("dtype", "shape", "data")
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    dtype: DType
    shape: _containers.RepeatedScalarFieldContainer[int]
    data: bytes
    def __init__(self, dtype: _Optional[_Union[DType, str]] = ..., shape: _Optional[_Iterable[int]] = ..., data: _Optional[bytes] = ...) -> None: ...

class CacheStats(_message.Message):
    __slots__ = ("hits", "misses")
    HITS_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    hits: int
    misses: int
    def __init__(self, hits: _Optional[int] = ..., misses: _Optional[int] = ...) -> None: ...

class InfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class InfoResponse(_message.Message):
    __slots__ = ("model_id", "vocab_size", "vocab_fingerprint", "pad_id", "eos_id", "max_source_len", "max_target_len", "max_k", "max_batch_tokens", "max_beam_size", "teacher_id", "device", "family", "src_lang", "tgt_lang", "members", "engine")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    VOCAB_SIZE_FIELD_NUMBER: _ClassVar[int]
    VOCAB_FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    PAD_ID_FIELD_NUMBER: _ClassVar[int]
    EOS_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_SOURCE_LEN_FIELD_NUMBER: _ClassVar[int]
    MAX_TARGET_LEN_FIELD_NUMBER: _ClassVar[int]
    MAX_K_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MAX_BEAM_SIZE_FIELD_NUMBER: _ClassVar[int]
    TEACHER_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    SRC_LANG_FIELD_NUMBER: _ClassVar[int]
    TGT_LANG_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    vocab_size: int
    vocab_fingerprint: str
    pad_id: int
    eos_id: int
    max_source_len: int
    max_target_len: int
    max_k: int
    max_batch_tokens: int
    max_beam_size: int
    teacher_id: str
    device: str
    family: str
    src_lang: str
    tgt_lang: str
    members: _containers.RepeatedCompositeFieldContainer[Member]
    engine: str
    def __init__(self, model_id: _Optional[str] = ..., vocab_size: _Optional[int] = ..., vocab_fingerprint: _Optional[str] = ..., pad_id: _Optional[int] = ..., eos_id: _Optional[int] = ..., max_source_len: _Optional[int] = ..., max_target_len: _Optional[int] = ..., max_k: _Optional[int] = ..., max_batch_tokens: _Optional[int] = ..., max_beam_size: _Optional[int] = ..., teacher_id: _Optional[str] = ..., device: _Optional[str] = ..., family: _Optional[str] = ..., src_lang: _Optional[str] = ..., tgt_lang: _Optional[str] = ..., members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., engine: _Optional[str] = ...) -> None: ...

class Member(_message.Message):
    __slots__ = ("model_id", "weight", "teacher_id")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    TEACHER_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    weight: float
    teacher_id: str
    def __init__(self, model_id: _Optional[str] = ..., weight: _Optional[float] = ..., teacher_id: _Optional[str] = ...) -> None: ...

class SentencePair(_message.Message):
    __slots__ = ("source", "target")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    source: Tensor
    target: Tensor
    def __init__(self, source: _Optional[_Union[Tensor, _Mapping]] = ..., target: _Optional[_Union[Tensor, _Mapping]] = ...) -> None: ...

class TopKRequest(_message.Message):
    __slots__ = ("sentences", "k")
    SENTENCES_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    sentences: _containers.RepeatedCompositeFieldContainer[SentencePair]
    k: int
    def __init__(self, sentences: _Optional[_Iterable[_Union[SentencePair, _Mapping]]] = ..., k: _Optional[int] = ...) -> None: ...

class TopKRow(_message.Message):
    __slots__ = ("ids", "logq", "rest_logmass")
    IDS_FIELD_NUMBER: _ClassVar[int]
    LOGQ_FIELD_NUMBER: _ClassVar[int]
    REST_LOGMASS_FIELD_NUMBER: _ClassVar[int]
    ids: Tensor
    logq: Tensor
    rest_logmass: Tensor
    def __init__(self, ids: _Optional[_Union[Tensor, _Mapping]] = ..., logq: _Optional[_Union[Tensor, _Mapping]] = ..., rest_logmass: _Optional[_Union[Tensor, _Mapping]] = ...) -> None: ...

class TopKResponse(_message.Message):
    __slots__ = ("rows", "cache")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[TopKRow]
    cache: CacheStats
    def __init__(self, rows: _Optional[_Iterable[_Union[TopKRow, _Mapping]]] = ..., cache: _Optional[_Union[CacheStats, _Mapping]] = ...) -> None: ...

class ScoreItem(_message.Message):
    __slots__ = ("source", "target", "candidates")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    source: Tensor
    target: Tensor
    candidates: Tensor
    def __init__(self, source: _Optional[_Union[Tensor, _Mapping]] = ..., target: _Optional[_Union[Tensor, _Mapping]] = ..., candidates: _Optional[_Union[Tensor, _Mapping]] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ScoreItem]
    def __init__(self, items: _Optional[_Iterable[_Union[ScoreItem, _Mapping]]] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("logq",)
    LOGQ_FIELD_NUMBER: _ClassVar[int]
    logq: _containers.RepeatedCompositeFieldContainer[Tensor]
    def __init__(self, logq: _Optional[_Iterable[_Union[Tensor, _Mapping]]] = ...) -> None: ...

class GenerateRequest(_message.Message):
    __slots__ = ("sources", "beam_size", "nbest", "max_len", "source_texts")
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    BEAM_SIZE_FIELD_NUMBER: _ClassVar[int]
    NBEST_FIELD_NUMBER: _ClassVar[int]
    MAX_LEN_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TEXTS_FIELD_NUMBER: _ClassVar[int]
    sources: _containers.RepeatedCompositeFieldContainer[Tensor]
    beam_size: int
    nbest: int
    max_len: int
    source_texts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, sources: _Optional[_Iterable[_Union[Tensor, _Mapping]]] = ..., beam_size: _Optional[int] = ..., nbest: _Optional[int] = ..., max_len: _Optional[int] = ..., source_texts: _Optional[_Iterable[str]] = ...) -> None: ...

class Hypothesis(_message.Message):
    __slots__ = ("ids", "score", "text")
    IDS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ids: Tensor
    score: float
    text: str
    def __init__(self, ids: _Optional[_Union[Tensor, _Mapping]] = ..., score: _Optional[float] = ..., text: _Optional[str] = ...) -> None: ...

class NBest(_message.Message):
    __slots__ = ("hypotheses",)
    HYPOTHESES_FIELD_NUMBER: _ClassVar[int]
    hypotheses: _containers.RepeatedCompositeFieldContainer[Hypothesis]
    def __init__(self, hypotheses: _Optional[_Iterable[_Union[Hypothesis, _Mapping]]] = ...) -> None: ...

class GenerateResponse(_message.Message):
    __slots__ = ("results", "cache")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[NBest]
    cache: CacheStats
    def __init__(self, results: _Optional[_Iterable[_Union[NBest, _Mapping]]] = ..., cache: _Optional[_Union[CacheStats, _Mapping]] = ...) -> None: ...

class SampleRequest(_message.Message):
    __slots__ = ("sentences", "m", "seed")
    SENTENCES_FIELD_NUMBER: _ClassVar[int]
    M_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    sentences: _containers.RepeatedCompositeFieldContainer[SentencePair]
    m: int
    seed: int
    def __init__(self, sentences: _Optional[_Iterable[_Union[SentencePair, _Mapping]]] = ..., m: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class SampleRow(_message.Message):
    __slots__ = ("ids", "counts")
    IDS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    ids: Tensor
    counts: Tensor
    def __init__(self, ids: _Optional[_Union[Tensor, _Mapping]] = ..., counts: _Optional[_Union[Tensor, _Mapping]] = ...) -> None: ...

class SampleResponse(_message.Message):
    __slots__ = ("rows", "cache")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[SampleRow]
    cache: CacheStats
    def __init__(self, rows: _Optional[_Iterable[_Union[SampleRow, _Mapping]]] = ..., cache: _Optional[_Union[CacheStats, _Mapping]] = ...) -> None: ...
