"""ModelBundle <-> model directory; aam_core's save/load do the work."""
from aam_core.bundle import ModelBundle

from ._format import AAMModelDirectoryFormat


def bundle_to_directory(data: ModelBundle) -> AAMModelDirectoryFormat:
    ff = AAMModelDirectoryFormat()
    data.save(str(ff))
    return ff


def directory_to_bundle(ff: AAMModelDirectoryFormat) -> ModelBundle:
    return ModelBundle.load(str(ff))


TRANSFORMERS = (bundle_to_directory, directory_to_bundle)
