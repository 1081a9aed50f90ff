# One LoRA per character (lora=sd15): references validated, then trained on the image model.


rule train_character_lora:
    input:
        references=character_references,
    output:
        lora="results/{series}/characters/{character}/lora.safetensors",
    params:
        spec=lora_spec,
    resources:
        gpu=1,
        mem_mb=16000,
    log:
        "logs/{series}/characters/{character}/train_character_lora.log",
    benchmark:
        "benchmarks/{series}/characters/{character}/train_character_lora.tsv"
    script:
        "../scripts/train_character_lora.py"
