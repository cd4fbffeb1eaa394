"""What a teacher is, in the shared ML layer: the contract every teacher keeps, the rules for what one request
may ask and cost, and the computations on a model in this process.

- `s2s.teacher.contract`: the types a teacher answers with (`TeacherInfo`, `TopKResult`, `SampledResult`,
  and `Signal`, the kinds of answer on fixed targets) and the errors it raises (`TeacherError` and its
  kinds), the same for the gRPC client and the in-process teacher.
- `s2s.teacher.limits`: what one request may ask (`TeacherLimits`, the checks) and what it costs against the
  token budget (the cost rules, `check_budget`, `split_by_budget`).
- `s2s.teacher.compute`: top-k with remaining mass, candidate scores and n-best on a Marian model.
- `s2s.teacher.answers`: whether an answer is valid by value (finite, log q <= 0, distinct ids in range),
  checked wherever answers enter training (the service's cache reads, the client, the in-process teacher).
- `s2s.teacher.sampling`: the sampled signal (m draws from q per position, as ids and counts).
- `s2s.teacher.identity`: the teacher id (model id + weights digest) and the sentence hash that key the
  cache and the store.
- `s2s.teacher.store`: the teacher-output store (answers for a corpus, on disk).
- `s2s.teacher.client_settings`: how a client reaches a teacher (its CA certificate, its token file).

Nothing is re-exported here: import each name from the module that owns it.
"""
