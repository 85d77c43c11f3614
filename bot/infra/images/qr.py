"""QR matrices with the standard's mask choice made cheap.

qrcode picks the mask by building the symbol eight times and scoring each with pure-Python
loops (about 5 ms of a 6 ms render). Masking is an XOR on the data modules (and a different
format-information field), so here the symbol is built once with mask 0 and the seven others
are that matrix XOR a difference computed once per version. Each candidate is a big integer
(one bit per module, row-major and column-major) scored with the ISO/IEC 18004 penalty rules
using bit operations and regular expressions; the scores equal qrcode's `util.lost_point` on
the same symbols (tests/test_qr.py). The chosen mask's matrix is then exactly what qrcode would
produce with that mask.
"""
from __future__ import annotations

import re
from functools import lru_cache

import qrcode
from qrcode import util
from qrcode.constants import ERROR_CORRECT_M

_RUNS = re.compile(r"0{5,}|1{5,}")
_FINDER = re.compile(r"(?=10111010000|00001011101)")


class Matrix:
    """A QR symbol without its quiet zone: `size` x `size` modules, `rows` as '0'/'1' text."""

    def __init__(self, size: int, bits: int, mask: int, version: int):
        self.size, self.mask, self.version = size, mask, version
        self.bits = bits
        self.text = format(bits, f"0{size * size}b")

    def dark(self, row: int, col: int) -> bool:
        return self.text[row * self.size + col] == "1"


def _to_int(modules, column_major: bool = False) -> int:
    grid = zip(*modules) if column_major else modules
    return int("".join("1" if m else "0" for line in grid for m in line), 2)


@lru_cache(maxsize=64)
def _mask_differences(version: int, error_correction: int) -> tuple[tuple[int, int], ...]:
    """For each mask k: (row-major, column-major) XOR that turns the mask-0 symbol into mask k."""
    n = version * 4 + 17
    q = qrcode.QRCode(version=version, error_correction=error_correction)
    q.modules_count = n
    q.modules = [[None] * n for _ in range(n)]
    q.setup_position_probe_pattern(0, 0)
    q.setup_position_probe_pattern(n - 7, 0)
    q.setup_position_probe_pattern(0, n - 7)
    q.setup_position_adjust_pattern()
    q.setup_timing_pattern()
    if version >= 7:
        q.setup_type_number(False)
    blank = q.modules  # function patterns; None for data and format cells

    def symbol(mask: int):
        q.modules = [row[:] for row in blank]
        q.setup_type_info(False, mask)  # fills the format cells for this mask
        is_mask = util.mask_func(mask)
        # function patterns are the same for every mask (False here: they cancel in the XOR);
        # format cells as set; data cells get the mask bit, which is what XOR-ing by it flips
        return [[False if blank[r][c] is not None else
                 q.modules[r][c] if q.modules[r][c] is not None else bool(is_mask(r, c))
                 for c in range(n)] for r in range(n)]

    grids = [symbol(mask) for mask in range(8)]
    ints = [(_to_int(g), _to_int(g, column_major=True)) for g in grids]
    out = [(rows ^ ints[0][0], cols ^ ints[0][1]) for rows, cols in ints]
    return tuple(out)


def _penalty(size: int, rows: int, cols: int) -> int:
    n2 = size * size
    row_text, col_text = format(rows, f"0{n2}b"), format(cols, f"0{n2}b")
    lines = "|".join(row_text[i:i + size] for i in range(0, n2, size)) + "|" + \
        "|".join(col_text[i:i + size] for i in range(0, n2, size))
    score = sum(len(run) - 2 for run in _RUNS.findall(lines))                    # rule 1
    score += 40 * sum(1 for _ in _FINDER.finditer(lines))                        # rule 3
    # rule 2: 2x2 blocks of one colour. Bit (r, c) sits at n2-1-(r*size+c); `below` lines row
    # r+1 up with row r, `right` drops the wrap from the last column into the next row.
    full = (1 << n2) - 1
    below = (rows << size) & full
    not_last_col = int(("1" * (size - 1) + "0") * size, 2)
    last_row = (1 << size) - 1
    dark = rows & (rows << 1) & below & (below << 1) & not_last_col
    light = ~rows & ~(rows << 1) & ~below & ~(below << 1) & not_last_col & full
    score += 3 * ((dark | light) & ~last_row).bit_count()
    percent = float(rows.bit_count()) / n2                                        # rule 4
    return score + int(abs(percent * 100 - 50) / 5) * 10


def make(text: str, error_correction: int = ERROR_CORRECT_M) -> Matrix:
    q = qrcode.QRCode(error_correction=error_correction, border=0, mask_pattern=0)
    q.add_data(text)
    q.make(fit=True)
    size = q.modules_count
    rows0, cols0 = _to_int(q.modules), _to_int(q.modules, column_major=True)
    best, best_score = 0, None
    for mask, (d_rows, d_cols) in enumerate(_mask_differences(q.version, error_correction)):
        score = _penalty(size, rows0 ^ d_rows, cols0 ^ d_cols)
        if best_score is None or score < best_score:
            best, best_score = mask, score
    return Matrix(size, rows0 ^ _mask_differences(q.version, error_correction)[best][0], best, q.version)


def penalty_of(modules) -> int:
    """The fast penalty of a qrcode module grid (tests compare it with qrcode's lost_point)."""
    return _penalty(len(modules), _to_int(modules), _to_int(modules, column_major=True))
