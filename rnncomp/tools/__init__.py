"""Tools around the codec: bench (speed, memory, FLOPs), export (TFLite / ONNX / SavedModel), demo."""
