import base64
import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.domain.models import ArrivalReport, Person
from bot.domain.people import find_person, get_or_create_person
from bot.infra.pii import DecryptError, Vault

NAME, ID_NUMBER, PHONE = "张三丰", "11010519491231002X", "13912345678"
ADDRESS = "浙江省绍兴市新昌县鼓山路88号"


def key():
    return os.urandom(32)


def test_round_trip_and_fresh_nonce():
    v = Vault(key())
    a, b = v.encrypt(NAME, "people.name"), v.encrypt(NAME, "people.name")
    assert a != b  # a new nonce each time: equal values do not look equal at rest
    assert v.decrypt(a, "people.name") == NAME and NAME not in a


def test_ciphertext_bound_to_its_column():
    v = Vault(key())
    sealed = v.encrypt(ID_NUMBER, "people.id_number")
    with pytest.raises(DecryptError):
        v.decrypt(sealed, "people.name")


def test_tampered_value_refused():
    v = Vault(key())
    sealed = v.encrypt(PHONE, "people.phone")
    kid, body = sealed.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[-1] ^= 1
    with pytest.raises(DecryptError):
        v.decrypt(kid + "." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("="), "people.phone")


def test_key_rotation_reads_old_values_and_writes_new():
    old, new = key(), key()
    sealed_old = Vault(old).encrypt(NAME)
    rotated = Vault(new, (old,))
    assert rotated.decrypt(sealed_old) == NAME
    assert rotated.needs_rotation(sealed_old)
    assert not rotated.needs_rotation(rotated.encrypt(NAME))
    with pytest.raises(DecryptError, match="PII_OLD_KEYS"):
        Vault(new).decrypt(sealed_old)


def test_lookup_hash_is_keyed_and_normalised():
    v = Vault(key())
    assert v.lookup_hash("id_card", "11010519491231002X") != Vault(key()).lookup_hash("id_card", "11010519491231002X")
    assert v.lookup_hash("id_card", "X") != v.lookup_hash("passport", "X")


def test_raw_sqlite_file_holds_no_personal_data_in_clear(services):
    with services.db.session() as s:
        person, created = get_or_create_person(s, services.vault, "id_card", ID_NUMBER, NAME, phone=PHONE,
                                               address=ADDRESS)
        s.add(ArrivalReport(person_id=person.id, origin_address=ADDRESS, left_on=__import__("datetime").date(2026, 11, 1),
                            arrival_on=__import__("datetime").date(2026, 11, 2), destination_address=ADDRESS))
    assert created
    if services.db.engine.dialect.name == "sqlite":
        with services.db.engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(FULL)"))
        db_path = Path(services.settings.database_url.split(":///", 1)[1])
        blobs = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
        # the table exists and has rows, and none of the values is there in clear, in any encoding
        raw = sqlite3.connect(db_path).execute("SELECT name, id_number, phone, address FROM people").fetchone()
        assert raw is not None
        for value in (NAME, ID_NUMBER, PHONE, ADDRESS, "鼓山路"):
            for encoding in ("utf-8", "utf-16-le", "gbk"):
                assert value.encode(encoding) not in blobs, (value, encoding)
    else:
        with services.db.engine.connect() as conn:
            row = conn.execute(text("SELECT name, id_number, phone, address FROM people")).one()
        assert not any(v in str(row) for v in (NAME, ID_NUMBER, PHONE, ADDRESS))


def test_lookup_by_id_through_the_keyed_hash(services):
    with services.db.session() as s:
        person, _ = get_or_create_person(s, services.vault, "id_card", ID_NUMBER, NAME)
        pid = person.id
    with services.db.session() as s:
        # lower-case x, spaces and full-width digits find the same person
        for typed in (ID_NUMBER, ID_NUMBER.lower(), "110105 19491231 002x", "１１０１０５１９４９１２３１００２Ｘ"):
            found = find_person(s, services.vault, "id_card", typed)
            assert found is not None and found.id == pid
            assert found.name == NAME and found.id_number == ID_NUMBER
        assert find_person(s, services.vault, "passport", ID_NUMBER) is None
        assert find_person(s, services.vault, "id_card", "110105194912310037") is None
        # the stored hash is not the number, and the query never sends it in clear
        stored = s.execute(select(Person.id_hash)).scalar_one()
        assert ID_NUMBER not in stored and len(stored) == 64


def test_same_person_created_once(services):
    with services.db.session() as s:
        a, created_a = get_or_create_person(s, services.vault, "id_card", ID_NUMBER, NAME)
        b, created_b = get_or_create_person(s, services.vault, "id_card", ID_NUMBER.lower(), "别名")
    assert created_a and not created_b and a.id == b.id
