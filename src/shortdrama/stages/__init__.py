"""One module per stage of the workflow, mirroring rules/*.smk: writing, characters, keyframes, clips,
audio, render (see stages.base for what a stage module holds, stages.registry for the rule list)."""
