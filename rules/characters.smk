# One LoRA per character (lora=sd15|sdxl|sd3): references validated (or generated from the look when
# the cast entry has none), then trained on the image model; a contact sheet shows what it learned.


rule generate_character_references:
    output:
        images=expand(
            "results/{{series}}/characters/{{character}}/references/ref_{i:02d}.png",
            i=range(WF.cfg.lora.reference_count),
        ),
        captions=expand(
            "results/{{series}}/characters/{{character}}/references/ref_{i:02d}.txt",
            i=range(WF.cfg.lora.reference_count),
        ),
    params:
        spec=references_spec,
    resources:
        gpu=1,
        mem_mb=16000,
    log:
        "logs/{series}/characters/{character}/generate_character_references.log",
    benchmark:
        "benchmarks/{series}/characters/{character}/generate_character_references.tsv"
    script:
        "../scripts/generate_character_references.py"


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


rule draw_contact_sheet:
    input:
        lora=rules.train_character_lora.output.lora,
    output:
        png="results/{series}/characters/{character}/contact_sheet.png",
    params:
        spec=contact_sheet_spec,
    resources:
        gpu=1,
        mem_mb=12000,
    log:
        "logs/{series}/characters/{character}/draw_contact_sheet.log",
    benchmark:
        "benchmarks/{series}/characters/{character}/draw_contact_sheet.tsv"
    script:
        "../scripts/draw_contact_sheet.py"
