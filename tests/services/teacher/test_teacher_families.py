"""Teachers of other families served over gRPC: TopK and Score from the family's own decoder start (the
target's language code first, for NLLB), Generate by text with texts free of language codes, Info naming the
family and direction."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from s2s.checkpoint import load_checkpoint
from s2s.languages import Languages
from services.teacher.server import TeacherServer
from teacher_client import TeacherClient

SOURCES = ["Y dijo Dios: Sea la luz.", "Y fue la luz.", "Amén."]
TARGETS = ["And God said, Let there be light.", "And there was light.", "Amen."]


@pytest.mark.parametrize("name", ["nllb", "t5"])
def test_a_family_teacher_answers_every_rpc(teacher_factory: Callable[..., TeacherServer],
                                            tiny_teachers: dict[str, Path], name: str) -> None:
    server = teacher_factory(tiny_teachers[name], src_lang="es", tgt_lang="en")
    ckpt = load_checkpoint(tiny_teachers[name], languages=Languages("es", "en"))
    tok, model = ckpt.tokenizer, ckpt.model
    src, tgt = tok.encode_batch(SOURCES, "source"), tok.encode_batch(TARGETS, "target")
    with TeacherClient(f"127.0.0.1:{server.port}", timeout_s=30) as client:
        info = client.info()
        top = client.topk(src, tgt, 4)
        cands = [np.tile(np.arange(3), (len(t), 1)) for t in tgt]
        scores = client.score(src, tgt, cands)
        by_text = client.generate_text(SOURCES, 2, 2, 8)
        by_ids = client.generate(src, 2, 2, 8)
    assert (info.family, info.src_lang, info.tgt_lang) == (ckpt.family.name, "es", "en")
    start = int(model.config.decoder_start_token_id)
    for s, t, r, sc in zip(src, tgt, top, scores, strict=True):
        with torch.inference_mode():  # reference: labels shifted right behind the family's decoder start
            logits = model(input_ids=torch.tensor([s]), decoder_input_ids=torch.tensor([[start, *t[:-1]]])).logits[0]
        ref = torch.log_softmax(logits.float(), -1).numpy()
        np.testing.assert_allclose(r.logq, -np.sort(-ref, axis=-1)[:, :4], atol=1e-2)
        np.testing.assert_allclose(sc, ref[:, :3], atol=1e-2)
    assert [[h.ids for h in n] for n in by_text] == [[h.ids for h in n] for n in by_ids]
    for nbest in by_text:
        for hyp in nbest:
            assert hyp.text == " ".join(tok.decode(hyp.ids).split())
            assert "Latn" not in hyp.text and "<pad>" not in hyp.text
            if tok.forced_bos_id is not None:
                assert hyp.ids[0] == tok.forced_bos_id


def test_sources_as_ids_and_as_text_together_are_refused(teacher_factory: Callable[..., TeacherServer],
                                                         tiny_teachers: dict[str, Path]) -> None:
    import grpc

    from kdproto import teacher_pb2 as pb
    from kdproto import teacher_pb2_grpc as pb_grpc
    from kdproto.tensors import pack_ids

    server = teacher_factory(tiny_teachers["t5"], src_lang="es", tgt_lang="en")
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = pb_grpc.TeacherStub(channel)
        request = pb.GenerateRequest(sources=[pack_ids(np.array([5, 1]))], source_texts=["Hola."], beam_size=1,
                                     nbest=1, max_len=4)
        with pytest.raises(grpc.RpcError) as err:
            stub.Generate(request)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "not both" in str(err.value.details())
        ok = stub.Generate(pb.GenerateRequest(source_texts=["Hola."], beam_size=1, nbest=1, max_len=4))
        assert len(ok.results) == 1
