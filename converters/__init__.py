"""Converters (CoreML, TFLite/LiteRT, ExecuTorch, ONNX) — see issue 3; installed as edge_sr.converters."""
