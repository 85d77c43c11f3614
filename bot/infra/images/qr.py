"""QR matrices with the standard's mask choice made cheap, and the codewords made fast.

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

import bisect
from functools import lru_cache

import qrcode
import qrcode.base
import qrcode.exceptions
from qrcode import util
from qrcode.constants import ERROR_CORRECT_M



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


def _function_patterns(version: int, error_correction: int) -> qrcode.QRCode:
    """A symbol with only its function patterns (and version information) set; None elsewhere."""
    n = version * 4 + 17
    q = qrcode.QRCode(version=version, error_correction=error_correction, border=0)
    q.modules_count = n
    q.modules = [[None] * n for _ in range(n)]
    q.setup_position_probe_pattern(0, 0)
    q.setup_position_probe_pattern(n - 7, 0)
    q.setup_position_probe_pattern(0, n - 7)
    q.setup_position_adjust_pattern()
    q.setup_timing_pattern()
    if version >= 7:
        q.setup_type_number(False)
    return q


@lru_cache(maxsize=64)
def _mask_differences(version: int, error_correction: int) -> tuple[tuple[int, int], ...]:
    """For each mask k: (row-major, column-major) XOR that turns the mask-0 symbol into mask k."""
    q = _function_patterns(version, error_correction)
    n = q.modules_count
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


@lru_cache(maxsize=64)
def _windows(size: int) -> tuple[int, int, int, int]:
    """(all bits, where a 5-wide window fits in its line, where an 11-wide one does, the last
    row) for a size x size grid, bit (r, c) at n2-1-(r*size+c)."""
    n2 = size * size
    full = (1 << n2) - 1

    def fits(w: int) -> int:
        return int(("1" * (size - w + 1) + "0" * (w - 1)) * size, 2)

    return full, fits(5), fits(11), (1 << size) - 1


_FINDERS = ("10111010000", "00001011101")


def _lines_penalty(bits: int, size: int) -> int:
    """Rules 1 and 3 on the lines of one orientation, with shifts and popcounts: (x << k) at a
    cell holds the cell k to its right, so an AND of shifts is a window, kept where it fits."""
    full, fit5, fit11, _ = _windows(size)
    score = 0
    for line in (bits, ~bits & full):
        w = line & (line << 1) & (line << 2) & (line << 3) & (line << 4) & fit5
        # a run of L >= 5 scores L - 2: its L - 4 windows, and 2 for the run (a window with none
        # just before it starts one)
        score += w.bit_count() + 2 * (w & ~(w >> 1)).bit_count()
    dark, light = bits, ~bits & full
    for pattern in _FINDERS:
        m = fit11
        for k, ch in enumerate(pattern):
            m &= (dark if ch == "1" else light) << k
        score += 40 * m.bit_count()
    return score


def _penalty(size: int, rows: int, cols: int) -> int:
    n2 = size * size
    full, _, _, last_row = _windows(size)
    score = _lines_penalty(rows, size) + _lines_penalty(cols, size)             # rules 1 and 3
    # rule 2: 2x2 blocks of one colour. Bit (r, c) sits at n2-1-(r*size+c); `below` lines row
    # r+1 up with row r, `right` drops the wrap from the last column into the next row.
    below = (rows << size) & full
    not_last_col = int(("1" * (size - 1) + "0") * size, 2)
    dark = rows & (rows << 1) & below & (below << 1) & not_last_col
    light = ~rows & ~(rows << 1) & ~below & ~(below << 1) & not_last_col & full
    score += 3 * ((dark | light) & ~last_row).bit_count()
    percent = float(rows.bit_count()) / n2                                        # rule 4
    return score + int(abs(percent * 100 - 50) / 5) * 10


# -- the codewords, fast --------------------------------------------------------------------------
# qrcode writes the data bit by bit into a list and divides polynomials with generic Python
# objects for the error correction: over half the time of a version-8 symbol (a signed claim,
# issue 17). Here the same segments (qrcode's own optimal split) are packed into one integer and
# the Reed-Solomon remainder is a table-driven LFSR over GF(256). tests/test_qr.py checks the
# codewords against qrcode's create_data.

_EXP = [0] * 512
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i], _LOG[_x] = _x, _i
    _x <<= 1
    if _x & 0x100:
        _x ^= 0x11D
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


@lru_cache(maxsize=64)
def _generator(n: int) -> tuple[int, ...]:
    """The generator polynomial of n error correction codewords, highest power first (without its
    leading 1), as logarithms for the LFSR."""
    g = [1]
    for i in range(n):
        nxt = [0] * (len(g) + 1)
        for j, c in enumerate(g):
            nxt[j] ^= c
            if c:
                nxt[j + 1] ^= _EXP[_LOG[c] + i]
        g = nxt
    return tuple(_LOG[c] for c in g[1:])


def _ecc(data: list[int], n: int) -> list[int]:
    gen = _generator(n)
    rem = [0] * n
    for byte in data:
        factor = byte ^ rem[0]
        rem = rem[1:] + [0]
        if factor:
            lf = _LOG[factor]
            rem = [r ^ _EXP[lf + g] for r, g in zip(rem, gen)]
    return rem


def _bits(data_list, version: int) -> tuple[int, int]:
    """The segments as one integer and its length in bits."""
    sizes = util.mode_sizes_for_version(version)
    value, length = 0, 0

    def put(v: int, n: int):
        nonlocal value, length
        value, length = (value << n) | v, length + n

    for seg in data_list:
        put(seg.mode, 4)
        put(len(seg), sizes[seg.mode])
        raw = seg.data
        if seg.mode == util.MODE_8BIT_BYTE:
            put(int.from_bytes(raw, "big"), 8 * len(raw))
        elif seg.mode == util.MODE_ALPHA_NUM:
            for i in range(0, len(raw) - 1, 2):
                put(util.ALPHA_NUM.find(raw[i:i + 1]) * 45 + util.ALPHA_NUM.find(raw[i + 1:i + 2]), 11)
            if len(raw) % 2:
                put(util.ALPHA_NUM.find(raw[-1:]), 6)
        else:  # numbers: groups of three digits in 10 bits, the rest in 7 or 4
            for i in range(0, len(raw), 3):
                chunk = raw[i:i + 3]
                put(int(chunk), (4, 7, 10)[len(chunk) - 1])
    return value, length


def codewords(data_list, error_correction: int) -> tuple[int, list[int]]:
    """(version, the symbol's codewords interleaved) as qrcode's best_fit and create_data give."""
    version = 1
    while True:
        value, length = _bits(data_list, version)
        fit = bisect.bisect_left(util.BIT_LIMIT_TABLE[error_correction], length, version)
        if fit > 40:
            raise qrcode.exceptions.DataOverflowError()
        if util.mode_sizes_for_version(fit) is util.mode_sizes_for_version(version):
            version = fit
            break
        version = fit
    value, length = _bits(data_list, version)
    blocks = qrcode.base.rs_blocks(version, error_correction)
    limit = sum(b.data_count * 8 for b in blocks)
    pad = min(limit - length, 4)                       # terminator
    value, length = value << pad, length + pad
    if length % 8:
        value, length = value << (8 - length % 8), length + 8 - length % 8
    data = list(value.to_bytes(length // 8, "big")) + [(0xEC, 0x11)[i % 2] for i in range((limit - length) // 8)]
    dc, ec, offset = [], [], 0
    for b in blocks:
        dc.append(data[offset:offset + b.data_count])
        ec.append(_ecc(dc[-1], b.total_count - b.data_count))
        offset += b.data_count
    out = [blk[i] for i in range(max(len(d) for d in dc)) for blk in dc if i < len(blk)]
    out += [blk[i] for i in range(max(len(e) for e in ec)) for blk in ec if i < len(blk)]
    return version, out


@lru_cache(maxsize=64)
def _layout(version: int, error_correction: int) -> tuple[int, int, int, tuple[int, ...], tuple[int, ...]]:
    """A version's symbol without data, masked with mask 0 (function patterns, format and version
    information, the mask on every data cell), as row- and column-major integers, and where each
    data bit goes in qrcode's placement order (as string indices of both): placing the codewords
    is then setting bits, without qrcode's per-cell map_data."""
    q = qrcode.QRCode(version=version, error_correction=error_correction, border=0, mask_pattern=0)
    q.data_cache = []
    q.makeImpl(False, 0)
    n = q.modules_count
    base_rows, base_cols = _to_int(q.modules), _to_int(q.modules, column_major=True)
    blank = _function_patterns(version, error_correction)
    blank.setup_type_info(False, 0)  # the format cells are not data cells either
    order = []
    row, inc = n - 1, -1
    for col in range(n - 1, 0, -2):  # as qrcode's map_data walks the symbol
        if col <= 6:
            col -= 1
        while True:
            for c in (col, col - 1):
                if blank.modules[row][c] is None:
                    order.append((row, c))
            row += inc
            if row < 0 or n <= row:
                row -= inc
                inc = -inc
                break
    return (n, base_rows, base_cols, tuple(r * n + c for r, c in order), tuple(c * n + r for r, c in order))


def make(text: str, error_correction: int = ERROR_CORRECT_M) -> Matrix:
    q = qrcode.QRCode(error_correction=error_correction, border=0, mask_pattern=0)
    q.add_data(text)
    version, words = codewords(q.data_list, error_correction)  # the segments add_data chose
    size, base_rows, base_cols, row_at, col_at = _layout(version, error_correction)
    bits = "".join(map("{:08b}".format, words))
    by_row, by_col = bytearray(b"0" * (size * size)), bytearray(b"0" * (size * size))
    for j, bit in enumerate(bits[:len(row_at)]):
        if bit == "1":
            by_row[row_at[j]] = by_col[col_at[j]] = 49
    rows0, cols0 = int(by_row, 2) ^ base_rows, int(by_col, 2) ^ base_cols
    best, best_score = 0, None
    for mask, (d_rows, d_cols) in enumerate(_mask_differences(version, error_correction)):
        score = _penalty(size, rows0 ^ d_rows, cols0 ^ d_cols)
        if best_score is None or score < best_score:
            best, best_score = mask, score
    return Matrix(size, rows0 ^ _mask_differences(version, error_correction)[best][0], best, version)


def penalty_of(modules) -> int:
    """The fast penalty of a qrcode module grid (tests compare it with qrcode's lost_point)."""
    return _penalty(len(modules), _to_int(modules), _to_int(modules, column_major=True))
