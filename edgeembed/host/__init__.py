"""Host tools: what runs on the build machine, never needed to embed on the device.

``bench`` (+ ``bench_worker``, one fresh process per pipeline), ``evaluate`` (STS and cosine
against the FP32 source model), ``package`` (the offline device archive). They may import
``edgeembed.converters`` and heavy toolchains (lazily); the device core must never import them
(``tests/test_dependency_direction.py``).
"""
