# One LoRA per character (lora=sd15|sdxl|sd3): references validated (or generated from the look when
# the cast entry has none), then trained on the image model; a contact sheet shows what it learned.


rule generate_character_references:
    output:
        images=expand(P.reference_image, i=[f"{i:02d}" for i in range(WF.cfg.lora.reference_count)], allow_missing=True),
        captions=expand(P.reference_caption, i=[f"{i:02d}" for i in range(WF.cfg.lora.reference_count)], allow_missing=True),
    params:
        spec=spec_of("generate_character_references"),
    resources:
        cpu=1,
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
        references=inputs_of("train_character_lora", "references"),
    output:
        lora=P.lora,
    params:
        spec=spec_of("train_character_lora"),
    resources:
        cpu=1,
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
        png=P.contact_sheet,
    params:
        spec=spec_of("draw_contact_sheet"),
    resources:
        cpu=1,
        gpu=1,
        mem_mb=12000,
    log:
        "logs/{series}/characters/{character}/draw_contact_sheet.log",
    benchmark:
        "benchmarks/{series}/characters/{character}/draw_contact_sheet.tsv"
    script:
        "../scripts/draw_contact_sheet.py"
