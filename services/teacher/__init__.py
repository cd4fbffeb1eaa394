"""The teacher service: a Marian model behind the `kd.teacher.v1` gRPC contract, with dynamic batching,
a Redis result cache and Prometheus metrics. Run with `python -m services.teacher` or `kd teacher serve`."""
