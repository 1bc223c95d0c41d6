"""The code location: every family under ``defs/`` plus the shared resources.

Each family folder carries its group and owners in its ``defs.yaml``. Every asset links to the file and
line that defines it (the UI's code references), and to that line in the git repository when
``CARTERA_GIT_URL`` is set.
"""

import warnings
from pathlib import Path

import dagster as dg

from cartera_pipelines.resources import build_resources
from cartera_pipelines.settings import load_settings

PACKAGE = Path(__file__).parent
CODE_REFERENCES = "dagster/code_references"

# Dagster's own post-processing (the families' defs.yaml) rebuilds asset checks through a beta parameter;
# the warning is about Dagster's internals, not our code, so it is the one warning we silence.
warnings.filterwarnings("ignore", message=r"Parameter `execution_type`", category=dg.BetaWarning)


def _code_references(assets: list, git_url: str, git_ref: str) -> dict[dg.AssetKey, object]:
    """Asset key → its code reference (file and line; a git URL when the repository is known)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        linked = dg.with_source_code_references(assets)
        if git_url:
            linked = dg.link_code_references_to_git(
                linked,
                git_url=git_url,
                git_branch=git_ref,
                file_path_mapping=dg.AnchorBasedFilePathMapping(
                    local_file_anchor=PACKAGE, file_anchor_path_in_repository="cartera_pipelines/"
                ),
            )
    return {
        spec.key: spec.metadata[CODE_REFERENCES]
        for asset in linked
        if isinstance(asset, dg.AssetsDefinition)
        for spec in asset.specs
        if CODE_REFERENCES in spec.metadata
    }


@dg.definitions
def defs() -> dg.Definitions:
    settings = load_settings()
    families = dg.load_from_defs_folder(path_within_project=PACKAGE)
    references = _code_references(list(families.assets or []), settings.git_url, settings.git_ref)
    with warnings.catch_warnings():  # map_asset_specs is "preview"; we only add metadata with it
        warnings.simplefilter("ignore", dg.PreviewWarning)
        families = families.map_asset_specs(
            func=lambda spec: (
                spec.merge_attributes(metadata={CODE_REFERENCES: references[spec.key]})
                if spec.key in references
                else spec
            )
        )
    return dg.Definitions.merge(families, dg.Definitions(resources=build_resources(settings)))
