"""nb_core.io: readers and writers for the files nanoBragg reads and writes."""

from nb_core.io._atomic import atomic_write_bytes
from nb_core.io._cbf import CbfHeader, CbfImage, cbf_bytes, read_cbf, write_cbf
from nb_core.io._dials import (
    NB_TO_DIALS,
    DialsBeam,
    DialsExperiment,
    DialsPanel,
    DialsSweep,
    experiment_list_bytes,
    write_experiment_list,
)
from nb_core.io._dials_read import experiment_matrix, is_experiment_list, read_experiment_list
from nb_core.io._extras import import_extra
from nb_core.io._fdump import read_fdump, write_fdump
from nb_core.io._gemmi import (
    GEMMI_EXTRA,
    StructureFactorSource,
    default_model_dmin,
    expand_to_p1,
    read_structure_factors,
    structure_factor_format,
)
from nb_core.io._hkl import FGrid, HklTable, grid_from_hkl, read_hkl
from nb_core.io._journal import recover_outputs
from nb_core.io._matrix import matrix_text, read_matrix, write_matrix
from nb_core.io._nexus import nexus_bytes, nexus_frame, read_nexus_image, write_nexus
from nb_core.io._outputs import OutputSet, OutputsInterrupted, check_outputs, write_output
from nb_core.io._raw import read_float_image, read_pgm, write_float_image, write_pgm
from nb_core.io._smv import ATOF_PREFIX, SmvImage, c_atof, read_smv, smv_value_of, write_smv
from nb_core.io._sources import SourceTable, read_sourcefile

__all__ = [
    "ATOF_PREFIX",
    "GEMMI_EXTRA",
    "NB_TO_DIALS",
    "CbfHeader",
    "CbfImage",
    "DialsBeam",
    "DialsExperiment",
    "DialsPanel",
    "DialsSweep",
    "FGrid",
    "HklTable",
    "OutputSet",
    "OutputsInterrupted",
    "SmvImage",
    "SourceTable",
    "StructureFactorSource",
    "atomic_write_bytes",
    "c_atof",
    "cbf_bytes",
    "check_outputs",
    "default_model_dmin",
    "expand_to_p1",
    "experiment_list_bytes",
    "experiment_matrix",
    "grid_from_hkl",
    "import_extra",
    "is_experiment_list",
    "matrix_text",
    "nexus_bytes",
    "nexus_frame",
    "read_cbf",
    "read_experiment_list",
    "read_fdump",
    "read_float_image",
    "read_hkl",
    "read_matrix",
    "read_nexus_image",
    "read_pgm",
    "read_smv",
    "read_sourcefile",
    "read_structure_factors",
    "recover_outputs",
    "smv_value_of",
    "structure_factor_format",
    "write_cbf",
    "write_experiment_list",
    "write_fdump",
    "write_float_image",
    "write_matrix",
    "write_nexus",
    "write_output",
    "write_pgm",
    "write_smv",
]
