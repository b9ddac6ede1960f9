"""nlc, a neural image codec, from Python.

    import numpy as np, nlc
    enc = nlc.Encoder()                      # the default model (or Encoder("m.nlcm"))
    stream = enc.encode(rgb, quality=2.0)    # rgb: uint8 H x W x 3 -> bytes
    img = nlc.Decoder().decode(stream)       # -> uint8 H x W x 3
    latent = nlc.Decoder().decode_latent(stream)   # -> float32 H x W x C, no synthesis
    nlc.info(stream)                         # header and sections, a dict

Streams are byte-identical to the `nlc` command line's. Errors: nlc.StreamError (and its
LimitError), nlc.ModelError, nlc.ImageError, nlc.DeviceError, all subclasses of nlc.Error
(a RuntimeError); bad arguments raise ValueError. Coding releases the GIL.
"""
from ._nlc import (  # noqa: F401  (the public API)
    DEFAULT_EFFORT,
    MAX_EFFORT,
    Classifier,
    Decoder,
    DeviceError,
    Encoder,
    Error,
    FitProgress,
    ImageError,
    LimitError,
    ModelError,
    StreamError,
    default_clc_model_path,
    default_model_path,
    info,
    model_info,
    psnr,
    read_image,
    set_threads,
    threads,
    write_image,
)

__all__ = [
    "Classifier", "Decoder", "DeviceError", "Encoder", "Error", "FitProgress", "ImageError", "LimitError",
    "ModelError", "StreamError", "default_clc_model_path", "default_model_path", "info", "model_info", "psnr",
    "read_image", "set_threads", "threads", "write_image",
]
