"""Character LoRA training for SD 1.x, SDXL and SD3 pipelines, following diffusers' LoRA training recipes.

Split into small modules: `settings` (the knobs), `dataset` (image/caption pairs), `family` + `sd15`/`sdxl`/`sd3`
(what differs per model family: layout, loading, loss, adapter format) looked up by name in `families`, `model`
(load a local diffusers model directory, add the adapter) and `train` (the loop, checkpoints, resume, final adapter).
Tiny random models built in code, for tests, are in `shortdrama.testing`.
"""
