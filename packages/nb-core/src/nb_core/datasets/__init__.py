"""Data sets: rotation series, stills at random orientations, and their manifests.

- :func:`image_name`: file-name templates (``frame_#####.img``);
- :func:`frame_phi`, :func:`reoriented`: one image's experiment from another's when only the
  spindle start or the missetting angles differ (no new resolve); :func:`has_zero_phi_step`:
  whether an image's phi0-quirk step gives it a kernel of its own;
- :func:`shot_parameters`, :func:`shot_rotation`, :class:`ShotVariation`,
  :func:`read_spectrum`: what each still draws (orientation uniform over SO(3), optional
  mosaic, size, flux and wavelength), seeded by the data set's seed and the shot's number;
- :func:`render_many`: images of one shape rendered together (vmap over what differs);
- :class:`ImageRecord`, :func:`image_record`, :func:`manifest_csv`,
  :func:`manifest_parquet`: each image's files and true parameters.
"""

from nb_core.datasets._batch import differing_fields, render_many
from nb_core.datasets._frames import frame_phi, has_zero_phi_step, reoriented
from nb_core.datasets._manifest import (
    MANIFEST_COLUMNS,
    ImageRecord,
    check_parquet,
    image_record,
    manifest_csv,
    manifest_parquet,
)
from nb_core.datasets._names import DEFAULT_WIDTH, image_name, number_width
from nb_core.datasets._shots import (
    ShotParameters,
    ShotVariation,
    Spectrum,
    read_spectrum,
    shot_parameters,
    shot_rotation,
)

__all__ = [
    "DEFAULT_WIDTH",
    "MANIFEST_COLUMNS",
    "ImageRecord",
    "ShotParameters",
    "ShotVariation",
    "Spectrum",
    "check_parquet",
    "differing_fields",
    "frame_phi",
    "has_zero_phi_step",
    "image_name",
    "image_record",
    "manifest_csv",
    "manifest_parquet",
    "number_width",
    "read_spectrum",
    "render_many",
    "reoriented",
    "shot_parameters",
    "shot_rotation",
]
