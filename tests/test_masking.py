import pytest

from bot.infra.masking import mask_address, mask_id_number, mask_name, mask_phone, mask_text


@pytest.mark.parametrize("name, masked", [
    ("张三", "张*"), ("李", "*"), ("王小明", "王**"), ("欧阳娜娜", "欧***"),
    ("买买提·艾力", "买*****"), ("John Smith", "J*** S***"), ("JO SMITHERSON", "J*** S***"),
    ("JEAN-LUC O'BRIEN", "J*** O***"), ("JOSÉ ÁLVAREZ", "J*** Á***"), ("", ""), (None, ""),
])
def test_names(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize("number, masked", [
    ("33010219900101123X", "330***********123X"),   # 18-digit ID card
    ("330102900101123", "330********1123"),          # legacy 15-digit ID card
    ("E12345678", "E******78"),                      # passport
    ("H1234567890", "H********90"),                  # Hong Kong/Macao permit
    ("AB123", "****3"),
    ("", ""),
])
def test_id_numbers(number, masked):
    assert mask_id_number(number) == masked
    if number:
        assert len(mask_id_number(number)) == len(number)


@pytest.mark.parametrize("phone, masked", [
    ("13812341234", "138****1234"), ("138 1234 1234", "138****1234"), ("+852 6123 456", "85******56"),
])
def test_phones(phone, masked):
    assert mask_phone(phone) == masked


def test_addresses_keep_only_the_region():
    assert mask_address("浙江省绍兴市新昌县七星街道鼓山路88号") == "浙江省绍兴市新昌县****"
    assert mask_address("北京市朝阳区建国路1号") == "北京市朝阳区****"
    assert "88" not in mask_address("某小区88号")


def test_free_text_scrubbed():
    text = "user 33010219900101123X phone 13812341234 note 12345"
    out = mask_text(text)
    assert "33010219900101123X" not in out and "13812341234" not in out
    assert "330***********123X" in out and "138****1234" in out and "12345" in out
