"""Issue 31's measurement: a two-teacher ensemble, its Seq-KD data and the students distilled from it."""
