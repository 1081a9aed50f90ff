"""Characters: reference images and (with the lora stage) one adapter per character."""
