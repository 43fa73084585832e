"""nb_core.io: readers and writers for the files nanoBragg reads and writes."""

from nb_core.io._atomic import atomic_write_bytes
from nb_core.io._fdump import read_fdump, write_fdump
from nb_core.io._hkl import FGrid, HklTable, grid_from_hkl, read_hkl
from nb_core.io._journal import recover_outputs
from nb_core.io._matrix import matrix_text, read_matrix, write_matrix
from nb_core.io._outputs import OutputSet, OutputsInterrupted, check_outputs, write_output
from nb_core.io._raw import read_float_image, read_pgm, write_float_image, write_pgm
from nb_core.io._smv import ATOF_PREFIX, SmvImage, c_atof, read_smv, smv_value_of, write_smv
from nb_core.io._sources import SourceTable, read_sourcefile

__all__ = [
    "ATOF_PREFIX",
    "FGrid",
    "HklTable",
    "OutputSet",
    "OutputsInterrupted",
    "SmvImage",
    "SourceTable",
    "atomic_write_bytes",
    "c_atof",
    "check_outputs",
    "grid_from_hkl",
    "matrix_text",
    "read_fdump",
    "read_float_image",
    "read_hkl",
    "read_matrix",
    "read_pgm",
    "read_smv",
    "read_sourcefile",
    "recover_outputs",
    "smv_value_of",
    "write_fdump",
    "write_float_image",
    "write_matrix",
    "write_output",
    "write_pgm",
    "write_smv",
]
