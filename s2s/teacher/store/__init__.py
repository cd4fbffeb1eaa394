"""The teacher-output store: a corpus's teacher answers (TopK or the sampled signal), kept on disk once.

Train many students from one teacher without paying the teacher again: `kd teacher precompute` writes the
answers for every sentence of a corpus into a folder, and the trainer (`teacher.store=DIR`) reads them back
memory-mapped, with no teacher running. The Redis cache is the hot, volatile layer; the store is the durable
one.

A store is a folder of Arrow IPC shards (`shard-000000.arrow`, ...) and `manifest.json`:

- `s2s.teacher.store.manifest`: what a store holds (teacher id, vocabulary fingerprint, signal, corpus, and
  per shard its sentences, positions, bytes and sha256) and the errors a store raises.
- `s2s.teacher.store.shards`: one shard, written atomically and read zero-copy.
- `s2s.teacher.store.writer`: claims a folder for one identity and adds finished shards (resumable).
- `s2s.teacher.store.reader`: `TeacherStore`, the read side: checksums, identity checks, lookups by sentence.
"""
