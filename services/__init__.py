"""Network services of the distillation system (teacher over gRPC, gateway over REST); they import `s2s`
but never each other."""
