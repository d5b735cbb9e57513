"""SpineBench: sampling, clinician verification, decontamination.

Modules (each usable on its own; `spinemed bench ...` in :mod:`.cli` is a thin layer over them):

* :mod:`.sample`     distribution-matched, seeded sampling of candidates from a corpus build
* :mod:`.review`     review packets out, filled packets in (strict), audit log, resolution
* :mod:`.agreement`  percent agreement, Fleiss' and Cohen's kappa on reviewer decisions
* :mod:`.simulate`   scripted reviewers for demos and tests (releases say ``simulated``)
* :mod:`.release`    the SpineBench Hub-layout folder: rows, card, manifest, audit log
* :mod:`.decontam`   overlap text, bench index, ``check_overlap``, the decontaminated corpus release
* :mod:`.demo`       ``run_bench_demo`` for ``spinemed demo``
"""
