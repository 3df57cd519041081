#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Writes the .npy fixtures that tests/data/npy_test.cpp reads, with numpy.save
# and numpy.lib.format.write_array.
# Run from the repository root: /usr/bin/python3 tests/data/make_npy_fixtures.py
import os

import numpy as np

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
os.makedirs(out, exist_ok=True)


def save(name, array, version=None):
    path = os.path.join(out, name)
    with open(path, "wb") as f:
        np.lib.format.write_array(f, array, version=version)


matrix = np.array([[1.5, -2.25], [0.1, 3.0e38], [-0.0, 1e-45]], dtype="<f4")
save("matrix_f4.npy", matrix)  # the bytes metnet::write_npy(..., NpyLayout::matrix) must reproduce
save("matrix_f8_fortran.npy", np.asfortranarray(matrix.astype("<f8")))
save("matrix_i8.npy", np.array([[1, -2], [3, 4], [5, 6]], dtype="<i8"))
save("vector_i4.npy", np.array([7, -8, 9], dtype="<i4"))
save("matrix_f4_big_endian.npy", matrix.astype(">f4"))
save("matrix_f4_nan.npy", np.array([[1.0, 2.0], [np.nan, 4.0]], dtype="<f4"))

records = np.zeros(3, dtype=[("Tight_Final_EX", "<f4"), ("N_Jets", "<i8"), ("True_EX", "<f8")])
records["Tight_Final_EX"] = [1000.0, -2500.5, 0.0]
records["N_Jets"] = [4, 0, 11]
records["True_EX"] = [12.5, -0.125, 1e3]
save("records.npy", records)
save("records_v2.npy", records, version=(2, 0))
save("records_v3.npy", records, version=(3, 0))

# Fields at offsets 0 and 8 of a 12-byte record: numpy writes the gaps as
# ('', '|V4') padding fields.
padded_type = np.dtype({"names": ["a_EX", "a_EY"], "formats": ["<f4", "<f4"], "offsets": [0, 8], "itemsize": 12})
padded = np.zeros(2, dtype=padded_type)
padded["a_EX"] = [1.0, 2.0]
padded["a_EY"] = [3.0, 4.0]
save("records_padded.npy", padded)

# The bytes metnet::write_npy(..., NpyLayout::structured) must reproduce.
float_records = np.zeros(3, dtype=[("x_EX", "<f4"), ("x_EY", "<f4")])
float_records["x_EX"] = matrix[:, 0]
float_records["x_EY"] = matrix[:, 1]
save("records_f4.npy", float_records)

# Chunked-reading fixtures: 23 events, so chunks of 7 leave 2 over. Element
# (r, c) is r * 10 + c - 100, plus 0.5 in even columns, as chunk_value in
# npy_chunks_test.cpp computes it. Every value is exact in each type used.
rows = np.arange(23)[:, None]
cols = np.arange(4)[None, :]
grid = rows * 10 + cols - 100 + 0.5 * (cols % 2 == 0)
for order, suffix in (("<", ""), (">", "_big_endian")):
    chunk_records = np.zeros(23, dtype=[("a_EX", order + "f4"), ("N_Jets", order + "i8"), ("b_EY", order + "f8"),
                                        ("N_Muons", order + "i4")])
    for c, name in enumerate(chunk_records.dtype.names):
        chunk_records[name] = grid[:, c]
    save("chunks_records" + suffix + ".npy", chunk_records)
save("chunks_matrix.npy", grid.astype("<f8"))
save("chunks_matrix_big_endian.npy", grid.astype(">f4"))
save("chunks_matrix_fortran_big_endian.npy", np.asfortranarray(grid.astype(">f8")))
