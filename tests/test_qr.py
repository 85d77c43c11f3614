"""The fast mask choice gives qrcode's own symbols and penalties; zxing-cpp decodes them."""
import random
import string

import pytest
import qrcode
from qrcode import util
from qrcode.constants import ERROR_CORRECT_M

from bot.infra.images import qr


def _qrcode_symbol(text: str, mask: int):
    q = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=mask)
    q.add_data(text)
    q.make(fit=True)
    return q.modules


def _texts(count: int, seed: int = 7):
    rnd = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "-_"
    for i in range(count):
        base = rnd.choice(["http://127.0.0.1:8000/v/", "https://jkm.example.gov.cn/v/", ""])
        yield base + "".join(rnd.choice(alphabet) for _ in range(rnd.choice([8, 32, 60, 150])))


@pytest.mark.parametrize("text", list(_texts(12)))
def test_every_mask_matches_qrcode_and_the_penalty_equals_lost_point(text):
    chosen = qr.make(text)
    scores = []
    for mask in range(8):
        modules = _qrcode_symbol(text, mask)
        scores.append(util.lost_point(modules))
        assert qr.penalty_of(modules) == scores[-1], f"mask {mask}"
    # the chosen mask is the standard's choice (lowest penalty, the first on a tie), built the same
    assert chosen.mask == scores.index(min(scores))
    expected = _qrcode_symbol(text, chosen.mask)
    assert chosen.text == "".join("1" if m else "0" for row in expected for m in row)


def test_matrix_reads_cells():
    m = qr.make("hello")
    # the top-left finder pattern: dark border, light ring, dark 3x3 centre
    assert m.dark(0, 0) and m.dark(0, 6) and not m.dark(1, 1) and m.dark(3, 3) and not m.dark(7, 7)


def _signed_like(count: int, seed: int = 11):
    """URLs ending in base32 claims (issue 17): mixed byte and alphanumeric segments."""
    import base64

    rnd = random.Random(seed)
    for _ in range(count):
        raw = bytes(rnd.randrange(256) for _ in range(rnd.choice([40, 104, 130])))
        yield rnd.choice(["http://127.0.0.1:8000/v/", "https://jkm.example.gov.cn/v/"]) + \
            base64.b32encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("text", list(_signed_like(6)))
def test_signed_claim_urls_match_qrcode_too(text):
    chosen = qr.make(text)
    scores = [util.lost_point(_qrcode_symbol(text, mask)) for mask in range(8)]
    assert chosen.mask == scores.index(min(scores))
    expected = _qrcode_symbol(text, chosen.mask)
    assert chosen.text == "".join("1" if m else "0" for row in expected for m in row)


@pytest.mark.parametrize("level", [qrcode.constants.ERROR_CORRECT_L, ERROR_CORRECT_M,
                                   qrcode.constants.ERROR_CORRECT_Q, qrcode.constants.ERROR_CORRECT_H])
def test_the_fast_codewords_equal_qrcodes(level):
    for text in [*_texts(20, seed=level), *_signed_like(5, seed=level), "12345678901234", "HELLO WORLD 123"]:
        q = qrcode.QRCode(error_correction=level, border=0, mask_pattern=0)
        q.add_data(text)
        q.make(fit=True)
        version, words = qr.codewords(q.data_list, level)
        assert version == q.version and words == util.create_data(q.version, level, q.data_list), text
