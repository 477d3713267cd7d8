"""The full-scale campaign on a lent GPU (see gpu/README.md): ``budget`` (the device's limits as parameters),
``datapack`` (the faces and masks that travel), ``campaign`` (the device calls), ``collect`` (their files ->
the repository). Run from the repository root as ``python -m gpu.campaign ...``."""
