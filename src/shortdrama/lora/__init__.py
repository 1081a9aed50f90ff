"""Character LoRA training for SD 1.x-family pipelines, following diffusers' train_text_to_image_lora recipe.

Split into small modules: `settings` (the knobs), `dataset` (image/caption pairs), `model` (load a local
diffusers model directory, add the adapter), `train` (the loop, checkpoints, resume, final adapter) and
`tiny` (a tiny random model built in code, for tests and offline demos only).
"""
