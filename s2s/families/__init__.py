"""Teacher families: one adapter per Hugging Face seq2seq family (see `s2s.families.registry`)."""
