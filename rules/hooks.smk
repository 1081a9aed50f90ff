# What a real build does before its first job and after its last; the logic is in shortdrama.build_hooks.
# Snakemake runs these in the main process only: never in a dry run (so not for `shortdrama plan`), not
# when nothing is out of date, and not inside spawned cluster jobs (--no-hooks).
from shortdrama import build_hooks


onstart:
    build_hooks.on_start(WF, workflow.basedir)  # every API key the config needs, before any job runs


onsuccess:
    # the merged ledger, then (when the whole series was asked for) every output against its manifest
    build_hooks.on_success(WF, workflow.basedir, whole_series=set(workflow.dag_settings.targets) <= {"all"})


onerror:
    build_hooks.on_error(WF, workflow.basedir)
