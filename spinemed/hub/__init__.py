"""Hub-layout dataset folders and publishing to the Hub.

A dataset folder is what `datasets.load_dataset(folder, config)` and the Hub both read::

    README.md        card; its YAML `configs:` block maps each config to its shards
    manifest.json    shard hashes, counts, versions; written last (a folder without it is incomplete)
    data/{config}/{split}-{i:05d}-of-{n:05d}.parquet

The parts, in the order a build uses them:

* `features`  - row conformance: a plain-dict row checked against its Features, images embedded;
* `writer`    - `DatasetFolderWriter`, the streaming, byte-reproducible parquet writer;
* `card`      - the dataset card (YAML from the stats, body from a Jinja2 template);
* `manifest`  - `write_manifest` / `verify_folder` / `compare_manifests`;
* `publish`   - `PublishPlan` and the one create-repo / upload / tag helper every Hub flow uses
  (dataset folders, the metric Space, the app Space, training stages), the publish gate hook,
  the repo-id check, the endpoint and the files that ship the library to a Space.
"""

from .card import (
    DEFAULT_CARD_METADATA,
    card_metadata,
    dataset_info_yaml,
    render_dataset_card,
    size_category,
    write_dataset_card,
)
from .features import describe_feature
from .manifest import (
    MANIFEST_FORMAT,
    _content_hash,  # noqa: F401  (tests/release_edit.py re-hashes edited releases)
    _sha256,  # noqa: F401
    check_version,
    compare_manifests,
    load_manifest,
    verify_folder,
    write_manifest,
)
from .publish import (
    ContaminationError,
    LicenceReport,
    PublishError,
    PublishPlan,
    ResidualRiskError,
    RestrictedRowsError,
    TagExistsError,
    check_repo_id,
    commit_id,
    deid_preflight,
    hub_client,
    hub_endpoint,
    is_repo_id,
    iter_string_cells,
    library_files,
    licence_report,
    open_repo,
    publish_folder,
    push,
    record_contamination,
    record_residual_risk,
    repo_tags,
    repo_url,
    scan_identifiers,
    tag_commit,
    upload,
)
from .writer import CARD_NAME, DATA_DIR, DEFAULT_BREAKDOWNS, MANIFEST_NAME, MAX_SHARD_BYTES, DatasetFolderWriter

__all__ = [
    "CARD_NAME",
    "DATA_DIR",
    "DEFAULT_BREAKDOWNS",
    "DEFAULT_CARD_METADATA",
    "MANIFEST_FORMAT",
    "MANIFEST_NAME",
    "MAX_SHARD_BYTES",
    "DatasetFolderWriter",
    "PublishError",
    "PublishPlan",
    "ResidualRiskError",
    "TagExistsError",
    "card_metadata",
    "check_repo_id",
    "commit_id",
    "check_version",
    "compare_manifests",
    "dataset_info_yaml",
    "deid_preflight",
    "describe_feature",
    "hub_client",
    "hub_endpoint",
    "is_repo_id",
    "iter_string_cells",
    "library_files",
    "load_manifest",
    "open_repo",
    "publish_folder",
    "push",
    "record_residual_risk",
    "record_contamination",
    "ContaminationError",
    "RestrictedRowsError",
    "LicenceReport",
    "licence_report",
    "render_dataset_card",
    "repo_tags",
    "repo_url",
    "scan_identifiers",
    "size_category",
    "tag_commit",
    "upload",
    "verify_folder",
    "write_dataset_card",
    "write_manifest",
]
